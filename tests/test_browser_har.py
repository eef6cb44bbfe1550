"""A HAR file a real browser wrote: headless Chromium talks to the mock, Playwright saves the
HAR, and streamctl checks and replays what is in it.

The page reads three SSE protocols with ``fetch`` (the HAR keeps such bodies; an
``EventSource``'s body is kept only when the stream ended before the page closed it, so it is
left out) and speaks chunk-complete over a WebSocket (Playwright keeps its frames as
``_webSocketMessages``, their times in milliseconds).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.capture import CaptureError, read_capture
from streamctl.core.check import check, failed, unjudged
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.transcript import Transcript
from streamctl.net import Limits, exchange

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytest_plugins = ("tests.browser",)
T = TypeVar("T")

FETCHED = ("goose", "sse-delta-done", "message-stream")
OPTIONS = ClientOptions("Hello browser", secret_key="test", chat="1")

PAGE_SCRIPT = """async ({requests}) => {
  for (const r of requests) {
    const response = await fetch(r.target, {method: r.method, headers: r.headers, body: r.body});
    await response.text();
  }
  await new Promise(done => {
    const ws = new WebSocket(location.origin.replace('http', 'ws') + '/chat/ws');
    ws.onopen = () => ws.send(JSON.stringify({message: 'Hello browser', timestamp: null}));
    ws.onmessage = e => { if (JSON.parse(e.data).type === 'complete') ws.close(1000, 'done'); };
    ws.onclose = () => done();
  });
}"""


def _request(protocol: str) -> dict[str, object]:
    """What streamctl's own client would send, for the page to ``fetch``."""
    request = get(protocol).client(OPTIONS).request()
    headers = {k: v for k, v in request.headers if k.lower() not in ("content-length", "host")}
    body = None if request.body is None else request.body.decode()
    return {"target": request.target, "method": request.method, "headers": headers, "body": body}


def record_har(browser: Browser, server: LiveServer, path: Path) -> bytes:
    context = browser.new_context(record_har_path=str(path), record_har_content="embed")
    page = context.new_page()
    page.set_default_timeout(20_000)  # as tests/browser.py: a loaded machine is slow
    page.goto(server.url("/_streamctl/health"))
    page.evaluate(PAGE_SCRIPT, {"requests": [_request(p) for p in FETCHED]})
    context.close()  # writes the HAR file
    return path.read_bytes()


def off_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` in a thread: Playwright's sync API keeps this thread's loop busy."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def body(transcript: Transcript) -> list[bytes | str]:
    frames = [frame.payload for _, frame in transcript.frames("server")]
    if transcript.header.transport == "ws":
        return frames
    return [b"".join(p if isinstance(p, bytes) else p.encode() for p in frames)]


def test_a_browsers_har_file_is_checked_and_replayed(browser: Browser, tmp_path: Path) -> None:
    with LiveServer(ServerConfig(watch=False, speed=0.0)) as server:
        har = record_har(browser, server, tmp_path / "har" / "session.har")
    found = read_capture(har)
    assert [t.protocol for t in found] == [*FETCHED, "chunk-complete"]
    for transcript in found:
        assert not failed(check(transcript)), check(transcript)
    goose = found[0]
    secret = [v for k, v in goose.header.request.headers if k.lower() == "x-secret-key"]
    assert secret == ["<redacted>"]
    assert goose.header.unknown == ("timing", "chunks")
    assert "goose.ping.interval" in {rule.id for rule in unjudged(goose)}
    websocket = found[-1]
    assert websocket.header.unknown == ()  # the frames carry their own times
    assert [f.sender for _, f in websocket.frames("client")] == ["client"]
    times = [record.t for record in websocket.records]
    assert times == sorted(times)
    assert 0.0 < times[-1] < 60_000.0  # milliseconds since the upgrade, not since 1970
    assert [t.protocol for t in read_capture(har, "sse-delta-done")] == ["sse-delta-done"]
    # Replayed by the mock from the directory holding the HAR file: the same bytes.
    replay_config = ServerConfig(watch=False, speed=0.0, scenario_dirs=(tmp_path / "har",))
    with LiveServer(replay_config) as replay:
        for index, transcript in enumerate(found, start=1):
            url = f"{replay.base_url}?scenario=session-{index}"
            proto = get(transcript.protocol)
            (again,) = off_loop(exchange(proto, OPTIONS, url, ["Hello browser"], Limits(20)))
            assert body(again) == body(transcript)
            assert not failed(check(again))


def test_an_eventsource_body_missing_from_the_har_is_named(tmp_path: Path) -> None:
    entry = {
        "request": {"method": "GET", "url": "http://h/api/chat/stream?message=x", "headers": []},
        "response": {
            "status": 200,
            "headers": [],
            "content": {"size": -1, "mimeType": "text/event-stream; charset=utf-8"},
        },
    }
    har = json.dumps({"log": {"entries": [entry]}}).encode()
    with pytest.raises(CaptureError, match="has no body saved in the HAR file"):
        read_capture(har)
