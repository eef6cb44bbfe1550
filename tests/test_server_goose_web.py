"""goose-web against a real server: the seed's GooseClient path, cancel, history, serve --as."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.check import check
from streamctl.core.script import default_reply
from streamctl.core.transcript import End, Frame, Header, Request, Response, Transcript
from streamctl.testing import MockServer

TIMEOUT = 10


@pytest.fixture(scope="module")
def as_goose_web() -> Iterator[LiveServer]:
    """A server run as ``streamctl serve --as goose-web``, paced as written."""
    with LiveServer(ServerConfig(watch=False, speed=1.0, serve_as="goose-web")) as server:
        yield server


@pytest.fixture
def goose_web(as_goose_web: LiveServer) -> MockServer:
    server = MockServer(as_goose_web)
    server.reset()
    return server


def atlas_send_reply(base_url: str, session_name: str, message: str) -> dict[str, Any]:
    """What the seed's ATLAS ``GooseClient.send_reply`` does, step for step (its HTTP client
    is requests and aiohttp; httpx and websockets here): goose web if ``GET /`` is a page
    with "Goose Chat", then the message over ``/ws``, ``response`` contents joined until
    ``complete`` or ``cancelled``; an ``error`` fails."""
    page = httpx.get(f"{base_url}/", timeout=3, follow_redirects=True)
    if not (page.status_code == 200 and "Goose Chat" in page.text):
        return {"success": False, "error": "not goose web"}
    payload = {
        "type": "message",
        "content": message,
        "session_id": session_name,
        "timestamp": int(time.time() * 1000),
    }
    chunks = []
    ws_url = base_url.replace("http://", "ws://") + "/ws"
    with connect(ws_url, open_timeout=TIMEOUT) as ws:
        ws.send(json.dumps(payload))
        while True:
            obj = json.loads(ws.recv(timeout=TIMEOUT))
            if obj.get("type") == "response" and obj.get("content"):
                chunks.append(str(obj["content"]))
            elif obj.get("type") in ("complete", "cancelled"):
                break
            elif obj.get("type") == "error":
                return {"success": False, "error": obj.get("message", "websocket error")}
    return {"success": True, "response": "".join(chunks).strip()}


def test_the_seeds_goose_client_takes_the_websocket_path_and_gets_the_whole_reply(
    goose_web: MockServer,
) -> None:
    goose_web.use({"reply": "Привіт! Чим можу допомогти?", "delay_ms": 1}, protocol="goose-web")
    result = atlas_send_reply(goose_web.base_url, "test-session", "Привіт")
    assert result == {"success": True, "response": "Привіт! Чим можу допомогти?"}
    assert [e["path"] for e in goose_web.journal("goose-web")] == ["/", "/ws"]


def test_without_as_the_page_is_not_goose_chat_so_the_client_would_use_goosed(
    mock_server: MockServer,
) -> None:
    page = httpx.get(f"{mock_server.base_url}/", timeout=3)
    assert page.status_code == 200
    assert "Goose Chat" not in page.text  # the JSON index: goosed's /reply is the way


def test_as_goose_web_the_root_is_goose_chat_and_the_playground_moves(
    goose_web: MockServer,
) -> None:
    base = goose_web.base_url
    for accept in ("*/*", "text/html"):
        page = httpx.get(f"{base}/", headers={"Accept": accept}, timeout=3)
        assert page.headers["content-type"].startswith("text/html")
        assert "<title>Goose Chat</title>" in page.text
    named = httpx.get(f"{base}/session/demo", timeout=3)
    assert 'window.GOOSE_SESSION_NAME = "demo"' in named.text
    playground = httpx.get(f"{base}/playground", headers={"Accept": "text/html"}, timeout=3)
    assert playground.status_code == 200
    assert "Goose Chat" not in playground.text
    assert "streamctl" in playground.text


def _until(ws: ClientConnection, *kinds: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        obj = json.loads(ws.recv(timeout=TIMEOUT))
        seen.append(obj)
        if obj["type"] in kinds:
            return seen


def _ask(content: str) -> str:
    return json.dumps({"type": "message", "content": content, "session_id": "s1", "timestamp": 1})


def test_a_cancel_stops_the_reply_and_the_connection_goes_on(goose_web: MockServer) -> None:
    # The second token would come a minute later: only the cancel can end this reply.
    slow = {"tokens": [{"text": "first", "delay_ms": 0}, {"text": " never", "delay_ms": 60000}]}
    goose_web.use(slow, protocol="goose-web")
    with connect(goose_web.url("goose-web"), open_timeout=TIMEOUT) as ws:
        ws.send(_ask("long one"))
        assert _until(ws, "response")[-1]["content"] == "first"
        ws.send(json.dumps({"type": "cancel", "session_id": "s1"}))
        assert _until(ws, "cancelled", "complete")[-1] == {
            "type": "cancelled",
            "message": "Operation cancelled",
        }
        goose_web.use({"reply": "next"}, protocol="goose-web")
        ws.send(_ask("again"))
        seen = _until(ws, "complete")
    assert [m["type"] for m in seen] == ["response", "complete"]
    (entry,) = [e for e in goose_web.journal("goose-web") if e["path"] == "/ws"]
    assert [r["outcome"] for r in entry["replies"]] == ["cancelled", "complete"]
    history = httpx.get(f"{goose_web.base_url}/api/sessions/s1", timeout=3).json()
    texts = [m["content"][0]["text"] for m in history["messages"]]
    assert texts == ["long one", "first", "again", "next"]


def test_every_message_type_streams_from_a_scenario_and_the_connection_conforms(
    goose_web: MockServer,
) -> None:
    script = {
        "thinking": "Checking the weather tool",
        "tokens": ["It ", "is ", "sunny"],
        "tool": {"name": "weather", "arguments": {"city": "Kyiv"}, "output": "sunny", "after": 2},
        "error": {"message": "context full", "after": 3, "kind": "context_exceeded"},
    }
    goose_web.use(script, protocol="goose-web")
    goose_web.use({"reply": "x", "error": {"message": "provider down"}}, protocol="goose-web")
    frames: list[Frame] = []
    with connect(goose_web.url("goose-web"), open_timeout=TIMEOUT) as ws:
        for text in ("weather?", "and now?", "garbage"):
            frames.append(Frame(len(frames), "client", text if text == "garbage" else _ask(text)))
            ws.send(frames[-1].payload)
            for obj in (
                _until(ws, "complete", "error") if text == "garbage" else _until(ws, "complete")
            ):
                frames.append(Frame(len(frames), "server", json.dumps(obj)))
    kinds = [json.loads(f.payload)["type"] for f in frames if f.sender == "server"]
    assert kinds == [
        "thinking",
        "response",
        "response",
        "tool_request",
        "tool_response",
        "response",
        "context_exceeded",
        "complete",
        "error",
        "complete",
        "error",
    ]
    header = Header("goose-web", "ws", Request("GET", "/ws"), Response(101))
    assert check(Transcript(header, (*frames, End(len(frames), "complete")))) == []


def test_history_survives_the_connection(mock_server: MockServer) -> None:
    with connect(mock_server.url("goose-web"), open_timeout=TIMEOUT) as ws:
        ws.send(_ask("Hello"))
        _until(ws, "complete")
    listed = httpx.get(mock_server.live.url("/api/sessions"), timeout=3).json()
    assert listed["sessions"][0]["name"] == "s1"
    assert listed["sessions"][0]["message_count"] == 2
    one = httpx.get(mock_server.live.url("/api/sessions/s1"), timeout=3).json()
    assert one["messages"][1]["content"][0]["text"] == default_reply("Hello").text
    assert httpx.get(mock_server.live.url("/api/health"), timeout=3).json() == {
        "status": "ok",
        "service": "goose-web",
    }


def _read_all(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    while True:
        into.append(json.loads(ws.recv(timeout=TIMEOUT)))


def test_a_drop_fault_cuts_the_reply(mock_server: MockServer) -> None:
    url = mock_server.url("goose-web") + "?fault=drop:after=2"
    with connect(url, open_timeout=TIMEOUT) as ws:
        ws.send(_ask("Hello"))
        received: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed):
            _read_all(ws, received)
    assert [m["type"] for m in received] == ["response", "response"]


def test_the_pytest_plugin_records_goose_web_and_its_recording_conforms(
    mock_server: MockServer, stream_recorder: Any
) -> None:
    from streamctl.testing import assert_conforms

    mock_server.use({"reply": "Hi!"}, protocol="goose-web")
    with connect(mock_server.url("goose-web"), open_timeout=TIMEOUT) as ws:
        ws.send(_ask("Hello"))
        _until(ws, "complete")
    recording = stream_recorder.last()
    assert recording.protocol == "goose-web"
    assert assert_conforms(recording) == []


def _run_pytest(directory: Any, serve_as: str) -> Any:
    import subprocess
    import sys

    (directory / "pytest.ini").write_text(f"[pytest]\nstreamctl_serve_as = {serve_as}\n")
    (directory / "test_page.py").write_text(
        "import httpx\n\n"
        "def test_root(mock_server):\n"
        "    assert 'Goose Chat' in httpx.get(mock_server.base_url + '/').text\n"
        "    assert mock_server.url('goose-web').endswith('/ws')\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_plugins_ini_option_serves_goose_chat_at_the_root(tmp_path: Any) -> None:
    done = _run_pytest(tmp_path, "goose-web")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_plugins_ini_option_refuses_a_protocol_without_pages(tmp_path: Any) -> None:
    done = _run_pytest(tmp_path, "goose")
    assert done.returncode != 0
    assert "streamctl_serve_as: 'goose' is not one of goose-web" in done.stdout + done.stderr
