"""The server talks: request lines, event lines (text and JSON), a quiet Ctrl-C, the banner and
the admin index."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from mockserver.admin import INDEX, PREFIX
from mockserver.app import create_app
from mockserver.config import ServerConfig
from mockserver.startup import banner
from mockserver.testing import LiveServer
from tests.live import talking
from tests.loops import SERVER_LOOPS
from tests.test_server_run import read_until

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3} sse-delta-done +GET /api/chat/stream 200 complete "
    r"scenario=plain (\d+) tokens [\d.]+ ms$"
)


@pytest.fixture
def logging_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    changes = {"speed": 0, "watch": False, "log_requests": True, **getattr(request, "param", {})}
    config = ServerConfig(**changes)
    with LiveServer(config) as server:
        yield server


def _lines(capsys: pytest.CaptureFixture[str], until: str, timeout: float = 10.0) -> list[str]:
    """The lines logged up to the one containing ``until`` (a line is written just after its
    response is sent, so it may come a moment after the client has its answer)."""
    text, deadline = "", time.monotonic() + timeout
    while until not in text and time.monotonic() < deadline:
        text += capsys.readouterr().err
        time.sleep(0.01)
    lines = [line for line in text.splitlines() if re.match(r"\d\d:\d\d|\{", line)]
    return lines[: next(i for i, line in enumerate(lines) if until in line) + 1]


def test_each_request_is_one_line_with_its_outcome_scenario_and_tokens(
    logging_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = logging_server.url("/api/chat/stream")
    httpx.get(url, params={"message": "hi", "scenario": "plain"}, timeout=10)
    httpx.get(logging_server.url("/nowhere"), timeout=10)
    assert logging_server.wait_idle()
    first, second = _lines(capsys, "/nowhere")[-2:]  # (the server's start-up probe first)
    found = LINE.match(first)
    assert found is not None, first
    assert int(found[1]) > 3
    assert re.match(r"^\S+ - +GET /nowhere 404 [\d.]+ ms$", second), second


@pytest.mark.parametrize(
    "logging_server",
    [{"log_requests": False, "log_events": True, "log_format": "json"}],
    indirect=True,
)
def test_events_are_logged_both_ways_as_json_lines_with_secrets_redacted(
    logging_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with talking(logging_server, "ws-events") as talk:
        token = talk._options("x").token
        assert talk.say("hello").text
    assert logging_server.wait_idle()
    lines = _lines(capsys, "assistant_message_complete")
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert {r["kind"] for r in records} == {"event"}  # no request line: requests are off
    received = [r for r in records if r["direction"] == "received" and "data" in r]
    assert [json.loads(r["data"])["type"] for r in received] == ["create_chat", "message"]
    assert token
    assert token not in json.dumps(records)
    sent = [json.loads(r["data"])["type"] for r in records if "data" in r]
    assert sent.count("assistant_message_token") > 3
    assert {r["protocol"] for r in records} == {"ws-events"}
    assert all(r["time"].endswith("Z") for r in records)


@pytest.mark.parametrize("logging_server", [{"log_events": True}], indirect=True)
def test_sse_events_are_logged_one_line_each_then_the_request(
    logging_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"content": "hi"}
    url = logging_server.url("/api/web/v1/chats/7/messages/stream")
    httpx.post(url, json=body, headers={"accept": "text/event-stream"}, timeout=10)
    assert logging_server.wait_idle()
    *events, request = _lines(capsys, "/messages/stream 200")
    assert " message-stream <- " in events[0]
    assert events[0].endswith(' <- {"body": "{\\"content\\":\\"hi\\"}"}')
    assert all(" message-stream -> {" in e for e in events[1:])
    assert len(events) > 4
    assert " POST /api/web/v1/chats/7/messages/stream 200 complete " in request


def test_no_log_is_installed_unless_asked() -> None:
    app = create_app(ServerConfig(watch=False))
    assert app.entry is app.front
    assert app.server.journal.on_open is None


def test_the_banner_names_the_playground_and_the_faults() -> None:
    text = banner(ServerConfig(faults=("drop:after=3",), fault_rate=0.25, seed=7), 8000, 1)
    assert "  playground              http://127.0.0.1:8000/\n" in text
    assert text.endswith("  faults on 25% of streams, seed 7: drop:after=3")
    assert "faults" not in banner(ServerConfig(), 8000, 1)


def test_the_admin_prefix_is_an_index_of_every_admin_route(live_server: LiveServer) -> None:
    for path in (PREFIX, PREFIX + "/"):
        answer = httpx.get(live_server.url(path), timeout=10)
        assert answer.status_code == 200
    listed = {(e["method"], e["path"]) for e in answer.json()["admin"]}
    app = create_app(ServerConfig(watch=False))
    routes = {
        (method, re.sub(r"<[^>]+>", "{id}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/") and not rule.rule.startswith(PREFIX + "/static/")
        for method in rule.methods or ()
        if method in ("GET", "POST")
    }
    assert listed == routes
    assert len(listed) == len(INDEX)


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_ctrl_c_with_streams_open_stops_quietly(tmp_path: Path, loop: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamctl", "serve", "--port", "0", "--loop", loop]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:
        head = read_until(process.stderr.fileno(), b"/_streamctl\n").decode()
        base = head.split("mock server on ")[1].split()[0]
        with (
            httpx.Client(timeout=10) as client,
            client.stream("GET", f"{base}/api/chat/stream?message=hi&scenario=slow") as sse,
            connect(base.replace("http:", "ws:") + "/chat/ws?scenario=slow") as ws,
        ):
            chunks = sse.iter_raw()  # kept: the stream closes when the iterator goes
            next(chunks)
            ws.send(json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00:00Z"}))
            ws.recv()
            process.send_signal(signal.SIGINT)
            _, rest = process.communicate(timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()
    text = rest.decode()
    assert process.returncode == 0
    assert "Traceback" not in text
    assert "CancelledError" not in text
    sse = re.search(
        r" sse-delta-done GET /api/chat/stream 200 unfinished scenario=slow (\d+) ", text
    )
    assert sse is not None
    assert int(sse[1]) >= 1
    assert " chunk-complete WS /chat/ws 101 unfinished scenario=slow " in text
    assert text.endswith("streamctl mock server stopped\n")
