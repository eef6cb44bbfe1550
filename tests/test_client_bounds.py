"""The client's memory is bounded by what it shows, not by how much the server sends (issue 16).

Before: every token of the reply was kept for the whole exchange (912 MB after 30 s of a fast
WebSocket) and unread WebSocket messages queued without bound (2.7 GB in 25 s of 15 MB
messages). ``--max-bytes`` stops any stream after so many bytes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.engine.recorder import NullSink, Recorder
from streamctl.net import Limits, Result, open_conversation
from tests.broken_servers import http_server, ws_server
from tests.test_cli_live import cli

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
TEXT = "x" * 8192
MESSAGES = 8000  # 64 MB of text


class Forget:
    """Sees everything and keeps nothing (as the terminal view does)."""

    def on_head(self, request: object, response: object) -> None:
        pass

    def on_frame(self, frame: object) -> None:
        pass

    def on_event(self, event: object) -> None:
        pass


def _converse(protocol: str, url: str, limits: Limits) -> Result:
    proto = get(protocol)

    async def go() -> Result:
        conv = open_conversation(
            proto,
            ClientOptions("hi"),
            url,
            recorders=lambda: Recorder(NullSink(), proto.name, proto.transport, keep=False),
            observer=Forget(),
            limits=limits,
        )
        try:
            return await conv.turn("hi")
        finally:
            await conv.aclose()

    return asyncio.run(go())


def test_a_long_websocket_reply_costs_what_one_message_costs() -> None:
    # The client runs in a process of its own, so only its memory is traced: the server's
    # thread here buffers more or less of the 64 MB depending on how the two are scheduled.
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": TEXT})
    with ws_server([chunk] * MESSAGES, end="hang") as server:
        out = subprocess.run(
            [sys.executable, "-c", _TRACED_CLIENT, server.url, str(MESSAGES)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=ROOT,
        ).stdout.split()
    outcome, events, peak = out[0], int(out[1]), int(out[2])
    assert (outcome, events) == ("max-events", MESSAGES)
    assert peak < 8 * MB  # 64 MB went by (one read of a compressed stream once held 26 MB)


_TRACED_CLIENT = """
import sys, tracemalloc
from tests.test_client_bounds import Limits, _converse
tracemalloc.start()
result = _converse("chunk-complete", sys.argv[1], Limits(max_events=int(sys.argv[2])))
_, peak = tracemalloc.get_traced_memory()
print(result.outcome, result.events, peak)
"""


def test_max_bytes_stops_a_websocket_stream() -> None:
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": TEXT})
    with ws_server([chunk] * 50, end="hang") as server:
        result = _converse("chunk-complete", server.url, Limits(max_bytes=10 * len(chunk)))
    assert (result.outcome, result.events) == ("max-bytes", 10)
    assert result.detail == f"stopped after {10 * len(chunk)} bytes"
    assert result.error is None


def test_max_bytes_stops_an_endless_sse_line() -> None:
    # No line end ever comes: without a byte bound only the timeout would stop it.
    with http_server([b"data: " + b"x" * 65536] * 64, end="hang") as server:
        result = _converse("sse-delta-done", server.url, Limits(max_bytes=MB))
    assert result.outcome == "max-bytes"
    assert result.events == 0


def test_send_takes_max_bytes() -> None:
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
    with ws_server([chunk] * 20, end="hang") as server:
        outcome = cli("send", "chunk-complete", server.url, "hi", "--max-bytes", "100")
    assert outcome.exit_code == 0, outcome.output
    assert "ended: max-bytes (stopped after" in outcome.output
