"""The admin API under /_streamctl: health, scenarios, reload, queue, journal, reset."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from mockserver.bundled import bundled_dir
from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import names
from streamctl.core.redact import REDACTED
from streamctl.engine.scenarios import load_dirs
from tests.live import converse

JSON = {"Content-Type": "application/json"}


def admin(server: LiveServer, path: str) -> str:
    return server.url(f"/_streamctl/{path}")


def test_health_says_what_is_served(live_server: LiveServer) -> None:
    health = httpx.get(admin(live_server, "health")).json()
    assert health["status"] == "ok"
    assert health["protocols"] == names()
    assert health["scenarios"] == len(load_dirs([bundled_dir()]))
    assert health["active"] == 0


def test_scenarios_are_listed_and_filtered_by_protocol(tmp_path: Path) -> None:
    (tmp_path / "honk.json").write_text(json.dumps({"protocols": ["goose"], "reply": "Honk"}))
    with LiveServer(ServerConfig(watch=False, scenario_dirs=(tmp_path,))) as server:
        listed = httpx.get(admin(server, "scenarios")).json()
        assert "honk" in [s["name"] for s in listed["scenarios"]]
        assert listed["sources"][-1] == str(tmp_path)
        for_sse = httpx.get(admin(server, "scenarios"), params={"protocol": "sse-delta-done"})
        assert "honk" not in [s["name"] for s in for_sse.json()["scenarios"]]


def test_reload_picks_up_new_files_and_keeps_the_old_set_when_one_is_broken(
    tmp_path: Path,
) -> None:
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    with LiveServer(config) as server:
        (tmp_path / "fresh.json").write_text(json.dumps({"reply": "Fresh!"}))
        reloaded = httpx.post(admin(server, "reload"), json={})
        assert reloaded.json() == {"status": "reloaded", "scenarios": 1}
        (exchange,) = converse(server, "sse-delta-done", ["hi"], scenario="fresh")
        assert exchange.text == "Fresh!"
        (tmp_path / "broken.json").write_text(json.dumps({"reply": "x", "delay": 1}))
        refused = httpx.post(admin(server, "reload"), json={})
        assert refused.status_code == 422
        assert "broken.json" in refused.json()["detail"]
        assert "unknown field 'delay'" in refused.json()["detail"]
        assert httpx.get(admin(server, "health")).json()["scenarios"] == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ("not json", 400, "the body is not JSON"),
        ("", 422, "send a JSON object"),
        ({"protocol": "goose"}, 422, "'protocol' and 'scenario' must be strings"),
        ({"protocol": "goose", "scenario": "plain", "count": 0}, 422, "'count'"),
        ({"protocol": "goose", "scenario": "plain", "count": True}, 422, "'count'"),
        ({"protocol": "gopher", "scenario": "plain"}, 404, "unknown protocol 'gopher'"),
        ({"protocol": "goose", "scenario": "nope"}, 404, "unknown scenario 'nope'"),
    ],
)
def test_a_bad_queue_request_says_what_is_wrong(
    live_server: LiveServer, body: object, status: int, detail: str
) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(admin(live_server, "queue"), content=content, headers=JSON)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    if status == 404:
        assert response.json()["available"]


def test_the_queue_can_be_read_back(live_server: LiveServer) -> None:
    httpx.post(admin(live_server, "queue"), json={"protocol": "goose", "scenario": "slow"})
    assert httpx.get(admin(live_server, "queue")).json() == {
        "queues": {"goose": [{"scenario": "slow", "remaining": 1}]}
    }


def test_reset_forgets_history_queues_and_the_journal(live_server: LiveServer) -> None:
    converse(live_server, "message-stream", ["remember me"], chat="5")
    httpx.post(admin(live_server, "queue"), json={"protocol": "goose", "scenario": "plain"})
    history = live_server.url("/api/web/v1/chats/5/messages")
    assert len(httpx.get(history).json()) == 2
    assert httpx.post(admin(live_server, "reset"), json={}).json() == {"status": "reset"}
    assert httpx.get(history).json() == []
    assert httpx.get(admin(live_server, "queue")).json() == {"queues": {}}
    journal = httpx.get(admin(live_server, "journal")).json()["entries"]
    assert [e["path"] for e in journal] == ["/api/web/v1/chats/5/messages"]


def test_the_journal_records_every_request_and_how_it_went(live_server: LiveServer) -> None:
    converse(live_server, "sse-delta-done", ["first"], scenario="plain")
    httpx.get(live_server.url("/api/chat/stream"))
    converse(live_server, "chunk-complete", ["second"])
    entries = httpx.get(admin(live_server, "journal")).json()["entries"]
    assert [(e["protocol"], e["method"], e["status"], e["outcome"]) for e in entries] == [
        ("sse-delta-done", "GET", 200, "complete"),
        ("sse-delta-done", "GET", 422, "refused"),
        ("chunk-complete", "WS", 101, "closed"),
    ]
    assert entries[0]["replies"][0] | {"writes": 0} == {
        "scenario": "plain",
        "how": "request",
        "user_text": "first",
        "outcome": "complete",
        "writes": 0,
    }
    assert json.loads(entries[2]["messages"][0])["message"] == "second"
    only = httpx.get(admin(live_server, "journal"), params={"protocol": "chunk-complete"})
    assert [e["id"] for e in only.json()["entries"]] == [entries[2]["id"]]


def test_the_journal_redacts_keys_tokens_and_secrets(live_server: LiveServer) -> None:
    converse(live_server, "goose", ["hi"], headers=(("Authorization", "Bearer abc"),))
    token = mint_dev_token(live_server.config.jwt_secret)
    with connect(live_server.url(f"/ws/chat?token={token}", ws=True)) as ws:
        ws.recv(timeout=10)
        ws.send(json.dumps({"type": "create_chat", "data": {"token": token}}))
        ws.recv(timeout=10)
        ws.recv(timeout=10)
    httpx.get(live_server.url("/sessions/s1"), headers={"X-Secret-Key": "test"})
    text = httpx.get(admin(live_server, "journal")).text
    assert token not in text
    assert "Bearer abc" not in text
    entries = httpx.get(admin(live_server, "journal")).json()["entries"]
    goose_headers = dict(entries[0]["headers"])
    assert goose_headers["x-secret-key"] == REDACTED
    assert goose_headers["authorization"] == REDACTED
    assert entries[1]["query"] == f"token={REDACTED}"
    assert json.loads(entries[1]["messages"][0])["data"]["token"] == REDACTED
    assert dict(entries[2]["headers"])["x-secret-key"] == REDACTED
