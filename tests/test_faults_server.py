"""Every fault kind end to end: a real Hypercorn, real httpx and websockets clients."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.script import default_reply
from streamctl.core.sse import SSEDecoder, decode
from streamctl.engine.fault_parsing import table

STREAM = "/api/chat/stream?message=hi%20there"
TEXT = default_reply("hi there").text


def get_stream(server: LiveServer, query: str = "", **headers: str) -> tuple[list[bytes], str]:
    """The body's chunks and how the stream ended (``complete`` or ``broken``)."""
    chunks: list[bytes] = []
    url = server.url(STREAM + ("&" + query if query else ""))
    try:
        with httpx.stream("GET", url, headers=headers, timeout=10) as response:
            assert response.status_code == 200
            chunks.extend(response.iter_raw())
    except httpx.RemoteProtocolError:
        return chunks, "broken"
    return chunks, "complete"


def deltas(body: bytes) -> list[str]:
    events, _ = decode(body)
    return [json.loads(e.data).get("delta", "") for e in events if e.data.startswith("{")]


def journal(server: LiveServer) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(server.url("/_streamctl/journal")).json()["entries"]
    return entries


def test_the_fault_table_is_served(live_server: LiveServer) -> None:
    answer = httpx.get(live_server.url("/_streamctl/faults")).json()
    assert answer == {"faults": table()}
    assert all({"name", "description", "example"} <= set(f) for f in answer["faults"])


def test_drop_after_n_events_breaks_the_stream(live_server: LiveServer) -> None:
    chunks, ended = get_stream(live_server, "fault=drop:after=3")
    assert ended == "broken"
    assert "".join(deltas(b"".join(chunks))) == 'You said: "hi'
    assert journal(live_server)[-1]["outcome"] == "dropped"


def test_drop_mid_event_leaves_half_an_event(live_server: LiveServer) -> None:
    chunks, ended = get_stream(live_server, "fault=drop:after=2,mid")
    decoder = SSEDecoder()
    events = decoder.feed(b"".join(chunks))
    assert (ended, len(events)) == ("broken", 2)
    assert b"".join(chunks).endswith(b"data: ")
    assert [p.code for p in (decoder.close(), decoder.problems)[1]] == ["incomplete-event"]


def test_drop_after_some_time(live_server: LiveServer) -> None:
    query = "scenario=slow&fault=drop:ms=300"
    slow = LiveServer(ServerConfig(watch=False, speed=1.0))
    with slow:
        started = time.monotonic()
        chunks, ended = get_stream(slow, query)
        assert ended == "broken"
        assert 0.25 < time.monotonic() - started < 5
        assert 0 < len(deltas(b"".join(chunks))) < 10


def test_the_header_works_like_the_parameter(live_server: LiveServer) -> None:
    chunks, ended = get_stream(live_server, **{"X-Streamctl-Fault": "drop:after=1;delay:ms=1"})
    assert (ended, deltas(b"".join(chunks))) == ("broken", ["You"])


def test_stall_with_pings_keeps_the_connection_alive(live_server: LiveServer) -> None:
    started = time.monotonic()
    chunks, ended = get_stream(live_server, "fault=stall:ms=1200,pings")
    assert time.monotonic() - started >= 1.2
    body = b"".join(chunks)
    assert ended == "complete"
    assert "".join(deltas(body)) == TEXT
    assert body.count(b": ping") == 2
    quiet, _ = get_stream(live_server, "fault=stall:ms=300")
    assert b": ping" not in b"".join(quiet)


def test_drip_splits_everything_and_nothing_is_lost(live_server: LiveServer) -> None:
    normal, _ = get_stream(live_server)
    dripped, ended = get_stream(live_server, "fault=drip:bytes=1,ms=1")
    assert ended == "complete"
    assert b"".join(dripped) == b"".join(normal)
    assert len(dripped) > len(normal) * 5


def test_a_multibyte_character_split_across_chunks_arrives_whole(live_server: LiveServer) -> None:
    url = live_server.url("/api/web/v1/chats/1/messages/stream?fault=drip:bytes=1,ms=1")
    with httpx.stream("POST", url, json={"content": "hé"}, timeout=10) as response:
        chunks = list(response.iter_raw())
    assert b"\xc3" in chunks
    assert b"\xa9" in chunks
    events, problems = decode(b"".join(chunks))
    assert problems == []
    text = "".join(json.loads(e.data).get("delta", "") for e in events)
    assert text == default_reply("hé").text


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 502, 503])
def test_http_status_before_the_stream(live_server: LiveServer, status: int) -> None:
    fault = f"http:{status}" + (",retry-after=5" if status == 429 else "")
    response = httpx.get(live_server.url(f"{STREAM}&fault={fault}"))
    assert response.status_code == status
    assert response.json() == {"detail": f"fault injected: {fault}"}
    assert response.headers.get("retry-after") == ("5" if status == 429 else None)


def test_wrong_content_type_and_a_content_length(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url(f"{STREAM}&fault=http:content-type=application/json"))
    assert response.headers["content-type"] == "application/json"
    response = httpx.get(live_server.url(f"{STREAM}&fault=http:content-length"))
    assert response.headers["content-length"] == str(len(response.content))
    assert "".join(deltas(response.content)) == TEXT


def test_delay_before_the_first_token_and_jitter(live_server: LiveServer) -> None:
    started = time.monotonic()
    chunks, _ = get_stream(live_server, "fault=delay:ms=400")
    assert time.monotonic() - started >= 0.4
    assert "".join(deltas(b"".join(chunks))) == TEXT
    chunks, _ = get_stream(live_server, "fault=jitter:ms=5,seed=7")
    assert "".join(deltas(b"".join(chunks))) == TEXT


@pytest.mark.parametrize(
    ("fault", "status"), [("nope", 400), ("drop:after=-1", 422), ("http:200", 422)]
)
def test_a_bad_fault_is_refused_with_the_bad_part_named(
    live_server: LiveServer, fault: str, status: int
) -> None:
    response = httpx.get(live_server.url(f"{STREAM}&fault={fault}"))
    assert response.status_code == status
    assert repr(fault) in response.json()["detail"]
    with pytest.raises(InvalidStatus) as refused:
        connect(live_server.url(f"/chat/ws?fault={fault}", ws=True))
    assert refused.value.response.status_code == status


def test_a_websocket_drop_closes_with_the_chosen_code(live_server: LiveServer) -> None:
    url = live_server.url("/chat/ws?fault=drop:after=2,code=4001", ws=True)
    received: list[str] = []
    with connect(url) as ws:
        ws.send(json.dumps({"message": "hi", "timestamp": "2024-01-01T00:00:00Z"}))
        with pytest.raises(ConnectionClosed) as closed:
            _receive_all(ws, received)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001
    assert len(received) == 2


def _receive_all(ws: Any, into: list[str]) -> None:
    while True:
        into.append(str(ws.recv(timeout=10)))


def test_a_websocket_upgrade_refused_with_a_status(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(live_server.url("/chat/ws?fault=http:503", ws=True))
    assert refused.value.response.status_code == 503


def test_a_scenario_carries_faults(live_server: LiveServer) -> None:
    scenario = {"name": "flaky", "reply": "one two three four", "faults": ["drop:after=2"]}
    added = httpx.post(live_server.url("/_streamctl/scenarios"), json=scenario)
    assert added.json()["faults"] == ["drop:after=2"]
    chunks, ended = get_stream(live_server, "scenario=flaky")
    assert (ended, deltas(b"".join(chunks))) == ("broken", ["one", " two"])
    bad = {**scenario, "faults": ["drop:after=x"]}
    refused = httpx.post(live_server.url("/_streamctl/scenarios"), json=bad)
    assert refused.status_code == 422
    assert "'faults'" in refused.json()["detail"]


def _drops(seed: int) -> list[bool]:
    config = ServerConfig(watch=False, speed=0, faults=("drop:after=1",), fault_rate=0.5, seed=seed)
    with LiveServer(config) as server:
        return [get_stream(server)[1] == "broken" for _ in range(12)]


def test_server_wide_faults_hit_a_share_of_streams_reproducibly() -> None:
    first = _drops(7)
    assert first == _drops(7)
    assert 0 < sum(first) < 12


def test_ids_and_last_event_id_continue_through_drops(live_server: LiveServer) -> None:
    received: list[str] = []
    last_id: str | None = None
    for _ in range(20):
        headers = {} if last_id is None else {"Last-Event-ID": last_id}
        chunks, _ = get_stream(live_server, "ids=1&fault=drop:after=4", **headers)
        events, _ = decode(b"".join(chunks))
        received.extend(json.loads(e.data).get("delta", "") for e in events)
        last_id = events[-1].id if events else last_id
        if any(json.loads(e.data).get("done") for e in events):
            break
    assert "".join(received) == TEXT
    assert len([r for r in received if r]) == len(default_reply("hi there").tokens)
