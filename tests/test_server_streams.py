"""Every bundled scenario on every protocol, streamed by a real Hypercorn to real clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mockserver import http_stream, ws_stream
from mockserver.bundled import bundled_dir
from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.check import check
from streamctl.core.protocols import get, names
from streamctl.core.protocols.exchange import Settings
from streamctl.core.script import default_reply
from streamctl.core.spec import Level
from streamctl.engine.scenarios import load_dirs
from tests.live import converse, options_for, with_query

BUNDLED = load_dirs([bundled_dir()]).by_name
WS = [n for n in names() if get(n).transport == "ws"]
SSE = [n for n in names() if get(n).transport == "sse"]
#: Every bundled scenario on every protocol it applies to (a recording: its own protocol).
PAIRS = [(p, s) for p in names() for s in sorted(BUNDLED) if BUNDLED[s].applies_to(p)]


def available(protocol: str) -> list[str]:
    return [name for name, s in BUNDLED.items() if s.applies_to(protocol)]


def musts(exchange_transcript: object) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in check(exchange_transcript) if f.level is Level.MUST]  # type: ignore[arg-type]


def test_the_bundle_has_scripts_for_every_protocol_and_a_recording_of_each() -> None:
    scripted = [n for n, s in BUNDLED.items() if s.kind == "scripted"]
    assert len(PAIRS) == len(scripted) * len(names()) + len(names())
    assert {s.recording.protocol for s in BUNDLED.values() if s.recording} == set(names())


@pytest.mark.parametrize(("protocol", "scenario"), PAIRS)
def test_every_bundled_scenario_passes_the_checker_on_every_protocol(
    live_server: LiveServer, protocol: str, scenario: str
) -> None:
    assert_streams_conforming(live_server, protocol, scenario)


@pytest.fixture(scope="module")
def on_asyncio() -> Iterator[LiveServer]:
    """A server on asyncio's own loop (the session's runs on uvloop where it is installed)."""
    with LiveServer(ServerConfig(watch=False, speed=0, loop="asyncio")) as server:
        yield server


@pytest.mark.parametrize(("protocol", "scenario"), PAIRS)
def test_every_bundled_scenario_passes_the_checker_on_asyncios_own_loop_too(
    on_asyncio: LiveServer, protocol: str, scenario: str
) -> None:
    httpx.post(on_asyncio.url("/_streamctl/reset"), json={}).raise_for_status()
    assert_streams_conforming(on_asyncio, protocol, scenario)


def assert_streams_conforming(server: LiveServer, protocol: str, scenario: str) -> None:
    """A conversation with ``scenario`` on ``protocol`` passes the checker and says its text."""
    turns = ["Hello there", "Tell me more", "Thanks", "One more"]
    if BUNDLED[scenario].kind == "recorded":
        # A recording is one exchange, replayed as it was: the bundled ones answer "Hello".
        turns = ["Hello"]
    for i, exchange in enumerate(converse(server, protocol, turns, scenario=scenario)):
        assert exchange.status in (200, 101)
        assert musts(exchange.transcript) == []
        script = BUNDLED[scenario].script(i if scenario == "conversation" else 0)
        if protocol == "sse-delta-done":  # no turns: every request is turn 0
            script = BUNDLED[scenario].script(0)
        assert exchange.text == script.text
        assert bool(exchange.errors) == (script.error is not None)


@pytest.mark.parametrize("protocol", names())
def test_with_no_scenario_the_default_reply_echoes_the_message(
    live_server: LiveServer, protocol: str
) -> None:
    (exchange,) = converse(live_server, protocol, ["Is this thing on?"])
    assert musts(exchange.transcript) == []
    assert exchange.text == default_reply("Is this thing on?").text
    (entry,) = live_server.server.journal.entries({"protocol": protocol})
    assert entry["scenario"] == "default"
    assert entry["replies"][0]["how"] == "default"


@pytest.mark.parametrize("protocol", [n for n in names() if n != "sse-delta-done"])
def test_a_conversation_advances_one_scripted_turn_per_user_turn(
    live_server: LiveServer, protocol: str
) -> None:
    turns = BUNDLED["conversation"].turns
    said = converse(live_server, protocol, ["a", "b", "c", "d"], scenario="conversation")
    assert [e.text for e in said] == [t.text for t in (*turns, turns[-1])]


@pytest.mark.parametrize("protocol", names())
def test_a_request_names_its_scenario_by_header(live_server: LiveServer, protocol: str) -> None:
    (exchange,) = converse(
        live_server, protocol, ["hi"], headers=(("X-Streamctl-Scenario", "plain"),)
    )
    assert exchange.text == BUNDLED["plain"].script(0).text
    (entry,) = live_server.server.journal.entries({"protocol": protocol})
    assert (entry["scenario"], entry["replies"][0]["how"]) == ("plain", "request")


@pytest.mark.parametrize("protocol", names())
def test_a_request_names_its_scenario_by_query_parameter(
    live_server: LiveServer, protocol: str
) -> None:
    (exchange,) = converse(live_server, protocol, ["hi"], scenario="plain")
    assert exchange.text == BUNDLED["plain"].script(0).text
    (entry,) = live_server.server.journal.entries({"protocol": protocol})
    assert entry["query"].endswith("scenario=plain")  # the journal keeps what was sent
    assert entry["replies"][0]["how"] == "request"


@pytest.mark.parametrize("protocol", names())
def test_the_admin_queue_serves_the_next_n_requests(live_server: LiveServer, protocol: str) -> None:
    response = httpx.post(
        live_server.url("/_streamctl/queue"),
        json={"protocol": protocol, "scenario": "plain", "count": 2},
    )
    assert response.status_code == 200
    assert response.json() == {"queues": {protocol: [{"scenario": "plain", "remaining": 2}]}}
    said = converse(live_server, protocol, ["one", "two", "three"])
    plain = BUNDLED["plain"].script(0).text
    assert [e.text for e in said] == [plain, plain, default_reply("three").text]
    entries = live_server.server.journal.entries({"protocol": protocol})
    assert [r["how"] for e in entries for r in e["replies"]] == ["queue", "queue", "default"]


@pytest.mark.parametrize("protocol", SSE)
def test_an_unknown_scenario_is_a_404_listing_the_available_ones(
    live_server: LiveServer, protocol: str
) -> None:
    client = get(protocol).client(options_for(live_server, "hi"))
    request = client.request()
    for target, headers in [
        (with_query(request.target, scenario="nope"), list(request.headers)),
        (request.target, [*request.headers, ("X-Streamctl-Scenario", "nope")]),
    ]:
        response = httpx.request(
            request.method, live_server.url(target), headers=headers, content=request.body
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "detail": f"unknown scenario 'nope' for protocol '{protocol}'",
            "available": available(protocol),
        }


@pytest.mark.parametrize("protocol", WS)
def test_an_unknown_scenario_refuses_the_websocket_upgrade_with_a_404(
    live_server: LiveServer, protocol: str
) -> None:
    path = get(protocol).stream_endpoint.path
    with pytest.raises(InvalidStatus) as caught:
        connect(live_server.url(f"{path}?scenario=nope", ws=True))
    response = caught.value.response
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert b'"available":["conversation"' in response.body
    (entry,) = live_server.server.journal.entries({"protocol": protocol})
    assert (entry["status"], entry["outcome"]) == (404, "unknown-scenario")


def test_a_websocket_scenario_is_rendered_once_per_turn_where_the_protocol_allows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chunk-complete's reply depends on the script and the turn's number only: rendered once
    # per number, whatever the connection; ws-events' carry ids and times: every turn.
    renders: list[str] = []
    for protocol in ("chunk-complete", "ws-events"):
        session = type(get(protocol).open(get(protocol).new_state(Settings())))  # type: ignore[attr-defined]

        def counted(original: Any, name: str = protocol) -> Any:
            def render(self: Any, *args: Any) -> Any:
                renders.append(name)
                return original(self, *args)

            return render

        monkeypatch.setattr(session, "render", counted(session.render))
    (tmp_path / "greet.json").write_text(json.dumps({"reply": "Hello there."}))
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    with LiveServer(config) as server:
        for _ in range(2):
            for protocol in ("chunk-complete", "ws-events"):
                turns = converse(server, protocol, ["hi", "again"], scenario="greet")
                assert [t.text for t in turns] == ["Hello there."] * 2
        # Without a scenario (the default reply follows the message): rendered every time.
        converse(server, "chunk-complete", ["hi"])
    assert renders.count("chunk-complete") == 2 + 1
    assert renders.count("ws-events") == 4


def test_a_scenario_of_another_protocol_is_unknown_here(tmp_path: Path) -> None:
    directory = tmp_path
    (directory / "honk.json").write_text('{"protocols": ["goose"], "reply": "Honk."}')
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(directory,))
    with LiveServer(config) as server:
        response = httpx.get(server.url("/api/chat/stream?message=hi&scenario=honk"))
        assert response.status_code == 404
        assert response.json()["available"] == []
        (exchange,) = converse(server, "goose", ["hi"], scenario="honk")
        assert exchange.text == "Honk."


def test_a_match_rule_picks_the_scenario_from_the_users_message(tmp_path: Path) -> None:
    (tmp_path / "weather.json").write_text(
        json.dumps({"match": "(?i)\\bweather\\b", "reply": "Sunny, 21 degrees."})
    )
    config = ServerConfig(watch=False, speed=0, scenario_dirs=(tmp_path,))
    with LiveServer(config) as server:
        for protocol in names():
            matched, other = converse(server, protocol, ["How is the WEATHER?", "Hello"])
            assert matched.text == "Sunny, 21 degrees."
            assert other.text == default_reply("Hello").text
        hows = {r["how"] for e in server.server.journal.entries() for r in e["replies"]}
        assert hows == {"match", "default"}


def test_a_scenario_is_rendered_once_where_the_protocol_allows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sse-delta-done's reply is its script alone: its writes are reused; goose's carry ids and
    # timestamps: rendered for every request. A reloaded scenario is rendered afresh.
    renders: list[str] = []

    def counted(original: Any) -> Any:
        def render(self: Any, *args: Any) -> Any:
            renders.append(self.name)
            return original(self, *args)

        return render

    for protocol in ("sse-delta-done", "goose"):
        cls = type(get(protocol))
        monkeypatch.setattr(cls, "render", counted(cls.render))
    (tmp_path / "greet.json").write_text(json.dumps({"reply": "Hello there."}))
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    with LiveServer(config) as server:
        bodies = [
            httpx.get(server.url("/api/chat/stream?message=hi&scenario=greet")).content
            for _ in range(3)
        ]
        for _ in range(2):
            (exchange,) = converse(server, "goose", ["hi"], scenario="greet")
            assert exchange.text == "Hello there."
        assert renders.count("sse-delta-done") == 1
        assert renders.count("goose") == 2
        assert bodies[0] == bodies[1] == bodies[2]
        assert b"Hello" in bodies[0]
        (tmp_path / "greet.json").write_text(json.dumps({"reply": "Goodbye."}))
        server.server.reload()
        again = httpx.get(server.url("/api/chat/stream?message=hi&scenario=greet")).content
        assert b"Goodbye" in again
        assert renders.count("sse-delta-done") == 2


def test_a_scenarios_messages_are_made_once_and_a_changed_reply_is_written_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ASGI messages of a reusable rendering are kept with it; a reply that resume (ids)
    # or a fault changes is written message by message, and still arrives whole.
    made: list[bytes | str] = []
    for cls in (http_stream.Body, ws_stream.Socket):

        def counted(payload: bytes | str, original: Any = cls.message) -> Any:
            made.append(payload)
            return original(payload)

        monkeypatch.setattr(cls, "message", staticmethod(counted))

    def joined(payloads: list[bytes | str], original: Any = ws_stream.joined) -> Any:
        made.extend(payloads)  # WebSocket messages due together, in one write
        return original(payloads)

    monkeypatch.setattr(ws_stream, "joined", joined)
    (tmp_path / "greet.json").write_text(json.dumps({"reply": "Hello there."}))
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    url = "/api/chat/stream?message=hi&scenario=greet"
    with LiveServer(config) as server:
        first = httpx.get(server.url(url)).content
        once = len(made)
        assert once > 0
        assert [httpx.get(server.url(url)).content for _ in range(2)] == [first, first]
        assert len(made) == once
        for _ in range(2):
            (turn,) = converse(server, "chunk-complete", ["hi"], scenario="greet")
            assert turn.text == "Hello there."
        twice = len(made)
        assert twice > once
        converse(server, "chunk-complete", ["hi"], scenario="greet")
        assert len(made) == twice  # turn 0 of chunk-complete again: kept
        resumed = httpx.get(server.url(f"{url}&ids=1")).content
        assert b"id: " in resumed
        assert resumed.replace(b"\r", b"").count(b"data:") == first.count(b"data:")
        faulted = httpx.get(server.url(f"{url}&fault=delay:ms=1")).content
        assert faulted == first
        assert len(made) > twice
