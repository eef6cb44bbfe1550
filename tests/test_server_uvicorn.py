"""The mock on Uvicorn (``streamctl serve --server uvicorn``): every protocol, and our guarantees.

The same app as on Hypercorn; what differs is the server's own handling (``mockserver/engines.py``).
Here: ``check``'s full suite and ``send`` on all six protocols, the admin API and playground,
WebSocket close codes on protocol errors, a flooding client held back, a client that left a
server that stopped reading let go, the body deadline, and a quiet stop on SIGINT/SIGTERM.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from typer.testing import CliRunner, Result

from mockserver import engines
from mockserver.config import ServerConfig
from mockserver.engines import EngineError, engine_name
from mockserver.inbox import LIMIT
from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.protocols import names
from streamctl.engine.clock import FakeClock
from streamctl.errors import ExitCode
from tests import test_reliability_ws as ws
from tests.test_cli_live import auth
from tests.test_reliability_body import answer, start, trickle
from tests.test_server_run import read_until

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("uvicorn") is None, reason="uvicorn is not installed"
)

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="streamctl")


@pytest.fixture(scope="module")
def uvicorn_session() -> Iterator[LiveServer]:
    config = ServerConfig(watch=False, speed=0, server="uvicorn", body_timeout_s=1.0)
    with LiveServer(config) as server:
        yield server


@pytest.fixture
def uvicorn_server(uvicorn_session: LiveServer) -> LiveServer:
    uvicorn_session.reset()
    return uvicorn_session


@pytest.mark.parametrize("protocol", names())
def test_check_passes_its_full_suite_on_every_protocol(
    uvicorn_server: LiveServer, protocol: str
) -> None:
    args = ["check", protocol, uvicorn_server.base_url, *auth(uvicorn_server, protocol)]
    result = cli(*args, "-f", "json")
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["failed"] is False
    assert all(p.get("status") != "fail" for p in report["probes"]), result.stdout


@pytest.mark.parametrize("protocol", names())
def test_send_gets_the_reply_on_every_protocol(uvicorn_server: LiveServer, protocol: str) -> None:
    url = uvicorn_server.base_url
    result = cli("send", protocol, url, "hello there", *auth(uvicorn_server, protocol))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert 'You said: "hello there"' in result.stdout


def test_the_admin_api_and_the_playground_are_served(uvicorn_server: LiveServer) -> None:
    health = httpx.get(uvicorn_server.url("/_streamctl/health"), timeout=10)
    assert health.status_code == 200
    assert health.json()["active"] == 0
    page = httpx.get(uvicorn_server.url("/"), headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    foreign = httpx.get(uvicorn_server.url("/status"), headers={"Host": "evil.example"})
    assert foreign.status_code in (400, 403, 421)  # DNS rebinding: refused by the app


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (ws.frame(b'{"message": "\xff\xfe"}'), 1007),  # a text message that is not UTF-8
        (ws.frame(ws.KB, first=0x80 | 0x40), 1002),  # RSV1 without an extension
        (ws.frame(ws.KB, opcode=0x3), 1002),  # a reserved opcode
        (ws.frame(b"x" * 200, opcode=0x9), 1002),  # a control frame over 125 bytes
    ],
)
def test_a_protocol_error_gets_a_close_frame_with_its_code(
    uvicorn_server: LiveServer, bad: bytes, code: int
) -> None:
    sock = ws.upgrade(uvicorn_server)
    sock.sendall(bad)
    assert ws.close_code(sock) == code
    sock.close()
    assert uvicorn_server.wait_idle(30)


def test_a_client_that_floods_and_never_reads_is_held_back_and_let_go(
    uvicorn_server: LiveServer,
) -> None:
    ws.test_a_client_that_floods_and_never_reads_is_held_back_and_let_go(uvicorn_server)


def test_a_client_that_leaves_a_server_that_stopped_reading_is_let_go() -> None:
    config = ServerConfig(watch=False, clock=FakeClock(), default_delay_ms=1000, server="uvicorn")
    with LiveServer(config) as server:
        sock = ws.upgrade(server)
        sock.sendall(b"".join(ws.frame(ws.KB) for _ in range(100)))
        held = 1 + LIMIT + 1  # one in the worker, LIMIT in the inbox, one waiting for room
        deadline = time.monotonic() + 30
        while ws.journal_messages(server) < held and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ws.journal_messages(server) <= held + 1  # Uvicorn reads one message ahead
        sock.close()
        # A server that is not reading learns that the client left from its next write (as on
        # Hypercorn): the reply in progress ends there, and the backlog is never answered.
        for _ in range(60):
            if server.wait_idle(0.1):
                break
            with contextlib.suppress(TimeoutError):
                server.advance(1.0, timeout=1.0)
        assert server.wait_idle(10)
        entry = httpx.get(server.url("/_streamctl/journal")).json()["entries"][0]
    assert entry["outcome"] == "disconnected mid-reply"
    assert len(entry["replies"]) == 1


def test_a_body_trickled_past_the_deadline_gets_a_408(uvicorn_server: LiveServer) -> None:
    sock = start(uvicorn_server, "/reply", 100_000, b'{"messages": [')
    sent = trickle(sock, 100_000)
    got = answer(sock)
    assert got.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 1 s" in got
    assert sent < 100_000


def test_an_unknown_or_missing_server_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EngineError, match="choose one of hypercorn, uvicorn"):
        engine_name("granian")
    with pytest.raises(EngineError, match="hypercorn only"):
        engine_name("uvicorn", workers=2)
    assert engine_name("uvicorn") == "uvicorn"
    result = cli("serve", "--port", "0", "--server", "uvicorn", "--workers", "2")
    assert result.exit_code == ExitCode.USAGE
    assert "error: --server: --workers above 1 runs on hypercorn only" in result.stderr
    monkeypatch.setattr(engines.importlib.util, "find_spec", lambda name: None)
    result = cli("serve", "--port", "0", "--server", "uvicorn")
    assert result.exit_code == ExitCode.USAGE
    hint = "install it with `pip install '.[uvicorn]' (in the streamctl checkout)`"
    assert f"uvicorn is not installed: {hint}" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_on_uvicorn_stops_quietly_with_streams_open(
    tmp_path: Path, sig: signal.Signals
) -> None:
    (tmp_path / "slow.json").write_text(json.dumps({"tokens": ["a"] * 50, "delay_ms": 1000}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamctl", "serve", "--port", "0", "--server", "uvicorn"]
    command += ["--scenarios", str(tmp_path)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stderr is not None
    sockets: list[socket.socket] = []
    try:
        head = read_until(process.stderr.fileno(), b"/_streamctl\n").decode()
        assert "uvicorn, " in head
        base = head.split("mock server on ")[1].split()[0]
        port = int(base.rsplit(":", 1)[1])
        sse = socket.create_connection(("127.0.0.1", port), timeout=30)
        sse.sendall(
            b"GET /api/chat/stream?message=hi&scenario=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        assert sse.recv(65536).startswith(b"HTTP/1.1 200 ")
        sockets.append(sse)
        opened = ws.upgrade(SimpleNamespace(port=port), "/chat/ws?scenario=slow")  # type: ignore[arg-type]
        opened.sendall(ws.frame(b'{"message": "hi", "timestamp": "2026-01-01T00:00:00Z"}'))
        assert opened.recv(65536)  # the first token: the reply is under way
        sockets.append(opened)
    finally:
        process.send_signal(sig)
        _, rest = process.communicate(timeout=30)
        for sock in sockets:
            sock.close()
    assert process.returncode == 0
    assert b"Traceback" not in rest
    assert b"Cancel" not in rest
    assert b"streamctl mock server stopped" in rest
