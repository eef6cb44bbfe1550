"""The recording proxy in front of the mock server: pass-through, recordings, replay.

Every protocol's exchange goes through a real proxy (Hypercorn) to a real mock server, driven by
streamctl's own clients; the proxy's transcript must hold exactly what the client received,
chunk for chunk, and ``serve --scenarios DIR`` must replay it with the same bytes, the same
chunk boundaries and no earlier than the recorded timing (scaled by the speed factor).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mockserver.config import ServerConfig
from mockserver.proxy import TEST_HEADER, Proxy, ProxyConfig, names_for
from mockserver.testing import LiveServer
from streamctl.core.check import check, failed
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import get, names
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.goose.state import GooseSettings
from streamctl.core.protocols.ws_events.server import WsEventsSettings
from streamctl.core.transcript import Close, Frame, Transcript, load
from streamctl.errors import ExitCode
from streamctl.net import Limits, exchange
from tests.live_asgi import LiveASGI
from tests.test_server_run import ROOT, read_until
from tests.third_party import create_app

PACED = {"name": "paced", "tokens": ["Hel", "lo", " there", "!"], "delay_ms": 30}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    scenarios = tmp_path_factory.mktemp("upstream-scenarios")
    (scenarios / "paced.json").write_text(json.dumps(PACED))
    config = ServerConfig(watch=False, speed=1.0, scenario_dirs=(scenarios,))
    with LiveServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def fastapi_upstream() -> Iterator[LiveASGI]:
    with LiveASGI(create_app()) as server:
        yield server


class Proxied:
    """A proxy in front of ``upstream`` recording to ``out``, and the notes it printed."""

    def __init__(self, upstream: str, out: Path, *, check: bool = True) -> None:
        self.notes: list[str] = []
        self.noted = threading.Condition()
        config = ProxyConfig(upstream, tuple(names()), out, check, self._note)
        self.out = out
        self.live = LiveASGI(Proxy(config)).start()

    def _note(self, line: str) -> None:
        with self.noted:
            self.notes.append(line)
            self.noted.notify_all()

    def wait_for(self, name: str, timeout: float = 20.0) -> None:
        """Until the exchange ``name`` ended (its --check line was printed)."""
        with self.noted:
            seen = self.noted.wait_for(
                lambda: any(n.startswith(f"proxy: {name} (") for n in self.notes), timeout
            )
        assert seen, f"the exchange {name!r} did not end: {self.notes}"

    def recording(self, name: str) -> Transcript:
        return load((self.out / f"{name}.jsonl").read_text(encoding="utf-8"))


@pytest.fixture
def proxied(upstream: LiveServer, tmp_path: Path) -> Iterator[Proxied]:
    proxy = Proxied(upstream.base_url, tmp_path / "recordings")
    (tmp_path / "recordings").mkdir()
    yield proxy
    proxy.live.stop()


def converse(protocol: str, base_url: str, test: str, query: str) -> Transcript:
    """One exchange of ``protocol`` through ``base_url``, as streamctl's client records it
    (with the default secrets of the mock and of the third-party app)."""
    options = ClientOptions(
        "Hello there",
        secret_key=GooseSettings().secret,
        token=mint_dev_token(WsEventsSettings().jwt_secret, now=time.time()),
        headers=((TEST_HEADER, test),),
        chat="1" if protocol == "message-stream" else None,
    )
    found = asyncio.run(
        exchange(get(protocol), options, f"{base_url}?{query}", ["Hello there"], Limits(timeout=20))
    )
    return found[0]


def open_and_close(url: str) -> None:
    with connect(url):
        pass


def drain(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=10)


def bursts(transcript: Transcript) -> list[list[float]]:
    """The server's frames in bursts: those after the request, then after each client message,
    each as its time since that anchor."""
    found: list[list[float]] = [[]]
    since = 0.0
    for record in transcript.records:
        if isinstance(record, Frame) and record.sender == "client":
            found.append([])
            since = record.t
        elif isinstance(record, Frame):
            found[-1].append(record.t - since)
    return [burst for burst in found if burst]


def server_frames(transcript: Transcript) -> list[Frame]:
    return [frame for _, frame in transcript.frames("server")]


@pytest.mark.parametrize("protocol", names())
@pytest.mark.parametrize("backend", ["mock", "fastapi"])
def test_proxy_records_what_the_client_got_and_replay_gives_it_back(
    protocol: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "mock":
        base = request.getfixturevalue("upstream").base_url
    else:  # FastAPI + sse-starlette + Starlette WebSockets: framing that is not ours
        base = request.getfixturevalue("fastapi_upstream").base_url
    (tmp_path / "recordings").mkdir()
    proxied = Proxied(base, tmp_path / "recordings")
    test = f"paced-{protocol}"
    try:
        seen = converse(protocol, proxied.live.base_url, test, "scenario=paced")
        proxied.wait_for(test)
    finally:
        proxied.live.stop()
    recorded = proxied.recording(test)
    # Pass-through: the client got exactly the frames the proxy read from the upstream.
    sent = server_frames(recorded)
    assert [f.payload for f in server_frames(seen)] == [f.payload for f in sent]
    assert len(sent) >= 4  # paced tokens arrive one write at a time
    assert recorded.end is not None
    # The client may leave the moment the terminator arrives, before the upstream's body ends.
    assert recorded.end.outcome in ("complete", "interrupted")
    assert not failed(check(recorded))
    assert any(line.startswith(f"proxy: {test} ({protocol}): ok") for line in proxied.notes)
    # The secrets the client sent are not in the file.
    text = (proxied.out / f"{test}.jsonl").read_text(encoding="utf-8")
    assert "eyJ" not in text
    assert '"x-secret-key","test"' not in text
    # Replay from the directory the proxy wrote.
    replay_config = ServerConfig(watch=False, speed=1.0, scenario_dirs=(proxied.out,))
    with LiveServer(replay_config) as replay:
        again = converse(protocol, replay.base_url, "replay", f"scenario={test}")
    replayed = server_frames(again)
    assert [f.payload for f in replayed] == [f.payload for f in sent]  # bytes and boundaries
    assert not failed(check(again))
    # The recorded pacing is kept (speed 1): the reply (the frames after the request, or after
    # the client's last message) lasts at least as long as it did upstream. Counted from its
    # anchor, since the first frame's own latency (connecting, forwarding) is the proxy's, not
    # the upstream's. Lateness is the machine's, so only this lower bound is asserted.
    got, want = bursts(again)[-1], bursts(recorded)[-1]
    # The upstream paced its tokens (4, 30 ms apart): the client, which cannot get the last one
    # before the upstream sends it, saw the reply last that long. (Once, on a loaded machine, the
    # proxy's own recording had its frames within 5 ms of its start: the times are in the message
    # should it happen again.)
    assert bursts(seen)[-1][-1] >= 90.0, (bursts(seen), bursts(recorded))
    assert got[-1] >= want[-1] - want[0] - 1.0, (got, want)


def test_non_stream_routes_and_unknown_paths_pass_through_unrecorded(
    upstream: LiveServer, proxied: Proxied
) -> None:
    base = proxied.live.base_url
    status = httpx.get(f"{base}/status")
    assert status.json() == httpx.get(f"{upstream.base_url}/status").json()
    health = httpx.get(f"{base}/_streamctl/health")
    assert health.status_code == 200
    missing = httpx.get(f"{base}/no/such/path")
    assert missing.status_code == 404
    refused = httpx.post(f"{base}/reply", json={}, headers={TEST_HEADER: "refused"})
    direct = httpx.post(f"{upstream.base_url}/reply", json={})
    assert (refused.status_code, refused.content) == (direct.status_code, direct.content)
    assert refused.status_code >= 400  # the refusal, passed on as it came
    proxied.wait_for("refused")
    assert sorted(p.name for p in proxied.out.iterdir()) == ["refused.jsonl"]
    head = proxied.recording("refused").header.response
    assert head is not None
    assert head.status == direct.status_code


def test_names_are_made_safe_and_numbered_when_missing(
    upstream: LiveServer, proxied: Proxied
) -> None:
    url = f"{proxied.live.base_url}/api/chat/stream"
    for headers in ({}, {TEST_HEADER: "a/b c"}, {TEST_HEADER: "a/b c"}):
        httpx.get(url, params={"message": "hi"}, headers=headers)
    assert sorted(p.stem for p in proxied.out.iterdir()) == [
        "0001-sse-delta-done",
        "a-b-c",
        "a-b-c-2",
    ]
    assert names_for("..", 7, "goose") == "0007-goose"


def test_websocket_close_codes_from_the_upstream_reach_the_client(
    upstream: LiveServer, proxied: Proxied
) -> None:
    url = f"{proxied.live.ws_url}/chat/ws?fault=drop:after=1,code=4001"
    message = json.dumps({"message": "hi", "timestamp": None})
    with connect(url, additional_headers={TEST_HEADER: "dropped"}) as ws:
        ws.send(message)
        with pytest.raises(ConnectionClosed):
            drain(ws)
        assert ws.close_code == 4001
        assert ws.close_reason == "fault injected"
    proxied.wait_for("dropped")
    recorded = proxied.recording("dropped")
    closes = [r for r in recorded.records if isinstance(r, Close) and r.sender == "server"]
    assert [(c.code, c.reason) for c in closes] == [(4001, "fault injected")]
    client = [f.payload for _, f in recorded.frames("client")]
    assert client == [message]


def test_an_unreachable_upstream_is_a_502_and_no_recording(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proxy = Proxied("http://127.0.0.1:9", out)  # the discard port: nothing listens
    try:
        response = httpx.get(f"{proxy.live.base_url}/api/chat/stream?message=hi")
    finally:
        proxy.live.stop()
    assert response.status_code == 502
    assert "cannot reach http://127.0.0.1:9" in response.text
    assert list(out.iterdir()) == []
    assert any("upstream unreachable" in note for note in proxy.notes)


def test_a_client_that_leaves_mid_stream_leaves_an_interrupted_recording(
    upstream: LiveServer, proxied: Proxied
) -> None:
    url = f"{proxied.live.base_url}/api/chat/stream"
    params = {"message": "hi", "scenario": "slow"}
    with httpx.stream("GET", url, params=params, headers={TEST_HEADER: "left"}) as response:
        next(response.iter_raw())
    proxied.wait_for("left")  # the proxy notices the disconnect on its own loop
    recorded = proxied.recording("left")
    assert recorded.end is not None
    assert recorded.end.outcome == "interrupted"
    assert server_frames(recorded)


def test_the_proxy_command_records_checks_and_stops_on_ctrl_c(
    upstream: LiveServer, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "recorded"
    command = [sys.executable, "-m", "streamctl", "proxy", "sse-delta-done", "goose"]
    command += ["--upstream", upstream.base_url, "--port", "0", "-o", str(out), "--check"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:
        head = read_until(process.stderr.fileno(), b"(Ctrl-C to stop)\n").decode()
        base = head.split("streamctl proxy on ")[1].split()[0]
        assert f"-> {upstream.base_url}, recording sse-delta-done, goose to {out}" in head
        reply = httpx.get(f"{base}/api/chat/stream", params={"message": "hi"}, timeout=10)
        assert reply.status_code == 200
        report = read_until(process.stderr.fileno(), b"0 SHOULD\n").decode()
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=20)
    assert "proxy: 0001-sse-delta-done (sse-delta-done): ok, 0 MUST, 0 SHOULD" in report
    assert process.returncode == 0
    assert b"Traceback" not in rest
    assert b"streamctl proxy stopped" in rest
    recorded = load((out / "0001-sse-delta-done.jsonl").read_text(encoding="utf-8"))
    assert b"".join(f.payload for f in server_frames(recorded)) == reply.content  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--upstream", "http://x"], "unknown protocol 'nope'"),
        (["goose", "--upstream", "ftp://x"], "must be an http:// or https:// URL"),
        (
            ["goose", "--upstream", "http://x", "--port", "1", "--host", "256.0.0.1"],
            "cannot listen",
        ),
    ],
)
def test_the_proxy_command_refuses_bad_arguments(args: list[str], message: str) -> None:
    from streamctl.cli.app import app

    result = CliRunner().invoke(app, ["proxy", *args], prog_name="streamctl")
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_the_proxy_command_says_when_it_cannot_write(tmp_path: Path) -> None:
    from streamctl.cli.app import app

    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = ["proxy", "goose", "--upstream", "http://x", "-o", str(blocker / "sub")]
    result = CliRunner().invoke(app, args, prog_name="streamctl")
    assert result.exit_code == ExitCode.USAGE
    assert "cannot write to" in result.stderr


def test_a_refused_websocket_upgrade_is_passed_on(upstream: LiveServer, proxied: Proxied) -> None:
    statuses = []
    for base in (upstream.ws_url, proxied.live.ws_url):
        with pytest.raises(InvalidStatus) as refused:
            open_and_close(f"{base}/chat/ws?scenario=no-such-scenario")
        statuses.append((refused.value.response.status_code, refused.value.response.body))
    assert statuses[0] == statuses[1]
    assert statuses[0][0] >= 400
    assert list(proxied.out.iterdir()) == []
    assert any("upstream refused" in note for note in proxied.notes)


def test_a_transcript_that_cannot_be_created_is_noted_and_the_exchange_goes_through(
    upstream: LiveServer, tmp_path: Path
) -> None:
    out = tmp_path / "recordings"
    out.mkdir()
    proxy = Proxied(upstream.base_url, out)
    try:
        out.rmdir()
        out.write_text("a file where the directory was")  # creating a file in it fails
        url = f"{proxy.live.base_url}/api/chat/stream"
        params = {"message": "hi", "scenario": "paced"}
        relayed = httpx.get(url, params=params, headers={TEST_HEADER: "lost"}, timeout=20)
        direct = httpx.get(f"{upstream.base_url}/api/chat/stream", params=params, timeout=20)
        proxy.wait_for("lost")  # the --check line still comes: the transcript was in memory
    finally:
        proxy.live.stop()
    assert relayed.status_code == 200
    assert relayed.content == direct.content
    assert any(f"cannot write {out / 'lost.jsonl'}" in note for note in proxy.notes)
    assert any(note.startswith("proxy: lost (sse-delta-done): ok") for note in proxy.notes)


def test_the_proxy_banner_comes_once_the_server_stack_is_loaded() -> None:
    """A client that waits for the banner is served at once: measured before this, a burst of
    200 streams sent on the banner got its first tokens ~170 ms later than through a proxy that
    had loaded its server stack first."""
    code = (
        "import socket, sys\n"
        "from mockserver.proxy import ProxyConfig, serve_proxy\n"
        "assert 'mockserver.run' not in sys.modules\n"
        "class Ready(Exception): pass\n"
        "def ready():\n"
        "    assert {'mockserver.run', 'hypercorn.asyncio'} <= set(sys.modules)\n"
        "    raise Ready\n"
        "sock = socket.socket()\n"
        "sock.bind(('127.0.0.1', 0))\n"
        "sock.listen()\n"
        "try:\n"
        "    serve_proxy(ProxyConfig('http://127.0.0.1:9', ('goose',)), sock, ready=ready)\n"
        "except Ready:\n"
        "    print('ready')\n"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.stdout == "ready\n", done.stderr
