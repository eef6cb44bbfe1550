"""``mockserver/endpoint.py``: SSE and WebSocket take the same decision for the same asks, in
the order ``streamctl/engine/reply.py`` documents: an unknown scenario (404) before a refusal
fault (its status) before anything is chosen, so a refused request leaves the admin queue as it
was. Every combination of unknown scenario x refusal fault x queued recording, asked in the
query or in the ``X-Streamctl-*`` headers."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mockserver.testing import LiveServer

#: One protocol of each transport, and the recording bundled for it.
STREAMS = {"sse-delta-done": "/api/chat/stream?message=hi&", "chunk-complete": "/chat/ws?"}
COMBINATIONS = list(itertools.product((False, True), repeat=3))
Asks = tuple[str, dict[str, str]]


def asks(unknown: bool, refusal: bool, via: str) -> Asks:
    """The query and the headers that ask for an unknown scenario and a refusal fault."""
    named = {"scenario": "nope"} if unknown else {}
    named |= {"fault": "http:429"} if refusal else {}
    if via == "query":
        return "&".join(f"{k}={v}" for k, v in named.items()), {}
    return "", {f"X-Streamctl-{k.title()}": v for k, v in named.items()}


def over_sse(server: LiveServer, asked: Asks) -> int:
    url = server.url(STREAMS["sse-delta-done"] + asked[0])
    return httpx.get(url, headers=asked[1], timeout=10).status_code


def over_websocket(server: LiveServer, asked: Asks) -> int:
    url = server.url(STREAMS["chunk-complete"] + asked[0], ws=True)
    try:
        with connect(url, additional_headers=asked[1]) as ws:
            ws.send(json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00:00.000Z"}))
            while '"complete"' not in str(ws.recv(timeout=10)):
                pass
    except InvalidStatus as refused:
        return refused.response.status_code
    return 200  # the upgrade was accepted and the reply streamed, as SSE's 200


def decision(server: LiveServer, protocol: str, status: int) -> dict[str, Any]:
    """What the server decided, as the journal and the queue tell it."""
    assert server.server.wait_idle(10)
    (entry,) = server.server.journal.entries({"protocol": protocol})
    # The bundled recording of each protocol is named after it: "recorded-<protocol>".
    chosen = [(r["scenario"].replace(protocol, "P"), r["how"]) for r in entry["replies"]]
    left = server.server.queues.snapshot().get(protocol, [])
    outcome = entry["outcome"] if status != 200 else "served"
    return {"status": status, "outcome": outcome, "chosen": chosen, "queue left": len(left)}


@pytest.mark.parametrize("via", ["query", "headers"])
@pytest.mark.parametrize(("unknown", "refusal", "queued"), COMBINATIONS)
def test_sse_and_websocket_decide_alike(
    live_server: LiveServer, unknown: bool, refusal: bool, queued: bool, via: str
) -> None:
    decided = {}
    for protocol, over in (("sse-delta-done", over_sse), ("chunk-complete", over_websocket)):
        httpx.post(live_server.url("/_streamctl/reset"), json={}, timeout=10).raise_for_status()
        if queued:
            live_server.server.queues.add(protocol, f"recorded-{protocol}")
        status = over(live_server, asks(unknown, refusal, via))
        decided[protocol] = decision(live_server, protocol, status)
    sse, ws = decided["sse-delta-done"], decided["chunk-complete"]
    assert sse == ws
    expected = 404 if unknown else 429 if refusal else 200
    assert sse["status"] == expected
    served = [("recorded-P", "queue")] if queued else [("default", "default")]
    assert sse["chosen"] == (served if expected == 200 else [])
    assert sse["queue left"] == (1 if queued and expected != 200 else 0)
