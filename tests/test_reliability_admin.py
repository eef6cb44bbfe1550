"""Hostile peers against the admin API: forms, foreign origins, rebinding hosts, bad bodies.

Each test drives a real server and checks both the answer and that nothing changed.
"""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mockserver.config import ServerConfig
from mockserver.cors import Cors
from mockserver.guard import Guard, host_name
from mockserver.testing import LiveServer
from streamctl.testing import MockServer
from tests.live import reconfigured

JSON = {"Content-Type": "application/json"}
QUEUE = {"protocol": "goose", "scenario": "plain"}
EVIL = "https://evil.example"


def admin(server: LiveServer, path: str) -> str:
    return server.url(f"/_streamctl/{path}")


def queues(server: LiveServer) -> object:
    return httpx.get(admin(server, "queue")).json()["queues"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_state_change_sent_as_a_form_or_text_is_refused(
    live_server: LiveServer, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps(QUEUE)
    refused = httpx.post(admin(live_server, "queue"), content=body, headers=headers)
    assert refused.status_code == 415
    assert "application/json" in refused.json()["detail"]
    added = httpx.post(admin(live_server, "scenarios"), content='{"reply": "x"}', headers=headers)
    assert added.status_code == 415
    assert queues(live_server) == {}
    listed = httpx.get(admin(live_server, "scenarios")).json()["scenarios"]
    assert "x" not in [s["description"] for s in listed]


def test_json_types_are_accepted(live_server: LiveServer) -> None:
    for kind in ("application/json", "application/json; charset=utf-8", "application/x+json"):
        answer = httpx.post(
            admin(live_server, "queue"), content=json.dumps(QUEUE), headers={"Content-Type": kind}
        )
        assert answer.status_code == 200, answer.text
    assert queues(live_server) == {"goose": [{"scenario": "plain", "remaining": 1}] * 3}


def test_a_foreign_origin_cannot_change_state_even_with_json(live_server: LiveServer) -> None:
    for path in ("queue", "reset", "recording"):
        refused = httpx.post(admin(live_server, path), json=QUEUE, headers={"Origin": EVIL})
        assert refused.status_code == 403
        assert EVIL in refused.json()["detail"]
    # Nor a protocol's own endpoint (a page may send a text/plain POST without a preflight).
    goose = httpx.post(live_server.url("/reply"), content="{}", headers={"Origin": "null"})
    assert goose.status_code == 403
    assert queues(live_server) == {}
    # Reading stays as before: CORS keeps the answer from the page.
    assert httpx.get(admin(live_server, "health"), headers={"Origin": EVIL}).status_code == 200


def test_local_and_own_origins_may_change_state(live_server: LiveServer) -> None:
    own = live_server.base_url
    for origin in ("http://localhost:5173", own):
        answer = httpx.post(admin(live_server, "queue"), json=QUEUE, headers={"Origin": origin})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin


def test_a_configured_origin_list_still_lets_the_server_s_own_page_in(
    live_server_session: LiveServer,
) -> None:
    config = {"cors_origins": ("https://app.example",)}
    with reconfigured(live_server_session, **config) as server:
        own = httpx.post(admin(server, "queue"), json=QUEUE, headers={"Origin": server.base_url})
        other = httpx.post(
            admin(server, "queue"), json=QUEUE, headers={"Origin": "http://localhost:3000"}
        )
        listed = httpx.post(
            admin(server, "queue"), json=QUEUE, headers={"Origin": "https://app.example"}
        )
    assert (own.status_code, other.status_code, listed.status_code) == (200, 403, 200)


def test_a_websocket_upgrade_from_a_foreign_origin_is_refused(live_server: LiveServer) -> None:
    url = live_server.url("/chat/ws", ws=True)
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=EVIL, open_timeout=10)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with connect(url, origin="http://localhost:8080", open_timeout=10) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"message": "hi"}))
        assert ws.recv(timeout=10)
    assert [e["status"] for e in httpx.get(admin(live_server, "journal")).json()["entries"]] == [
        101
    ]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io"])
def test_a_rebinding_host_name_is_refused_everywhere(live_server: LiveServer, host: str) -> None:
    headers = {"Host": host}
    for method, path in (("GET", "/_streamctl/journal"), ("GET", "/"), ("POST", "/reply")):
        answer = httpx.request(method, live_server.url(path), headers=headers, content=b"{}")
        assert answer.status_code == 400
        assert "--allow-host" in answer.json()["detail"]
    with pytest.raises(InvalidStatus) as refused:
        connect(live_server.url("/chat/ws", ws=True), additional_headers=headers, open_timeout=10)
    assert refused.value.response.status_code == 400
    for host_ok in ("localhost", "127.0.0.1:1", "[::1]:8000", "LOCALHOST."):
        ok = httpx.get(live_server.url("/_streamctl/health"), headers={"Host": host_ok})
        assert ok.status_code == 200, host_ok


def guard(**config: object) -> Guard:
    server = ServerConfig(**config)  # type: ignore[arg-type]
    return Guard(server, Cors(server.cors_origins))


@pytest.mark.parametrize(
    ("config", "host", "allowed"),
    [
        ({}, "localhost:8000", True),
        ({}, "192.168.1.5:8000", False),
        ({"host": "0.0.0.0"}, "192.168.1.5:8000", True),
        ({"host": "::"}, "[fe80::1]:8000", True),
        ({"host": "0.0.0.0"}, "mock.internal:8000", False),
        ({"host": "mock.internal"}, "mock.internal:8000", True),
        ({"allowed_hosts": ("mock",)}, "mock:8000", True),
        ({"allowed_hosts": ("*",)}, "anything.example", True),
    ],
)
def test_the_host_names_a_server_answers_to(
    config: dict[str, object], host: str, allowed: bool
) -> None:
    assert guard(**config).host_allowed(host) is allowed


def test_host_names_are_read_without_port_or_brackets() -> None:
    assert host_name("[::1]:80") == "::1"
    assert host_name("Example.COM.:8080") == "example.com"
    assert host_name("[::1") == "[::1"
    assert host_name("localhost") == "localhost"


def test_an_admin_token_guards_the_admin_api_but_not_the_playground(
    live_server_session: LiveServer,
) -> None:
    with reconfigured(live_server_session, admin_token="s3cret") as server:
        for method, path in (("GET", "journal"), ("POST", "reset"), ("GET", "transcripts")):
            refused = httpx.request(method, admin(server, path), json={})
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(admin(server, "journal"), headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        for path in ("health", "faults", "scenarios", "token", "static/app.js"):
            assert httpx.get(admin(server, path)).status_code == 200, path
        good = httpx.get(admin(server, "journal"), headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        # What the pytest plugin hands tests carries the token.
        mock = MockServer(server)
        mock.use({"reply": "Honk"}, protocol="goose")
        mock.reset()
        assert mock.journal() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("queue", b'{"protocol": "goose\xff"}'),
        ("recording", b"\xc3\x28"),
        ("scenarios", b'{"reply": "\xfe"}'),
        ("queue", b"[" * 5000 + b"]" * 5000),
        ("recording", b'{"on": ' + b"[" * 100_000),
        ("scenarios", b"[" * 5000 + b"]" * 5000),
        ("scenarios", b'{"magic": "streamctl-transcript"}\n' + b"[" * 5000 + b"]" * 5000),
    ],
)
def test_bad_bytes_or_deep_json_get_a_400_with_a_reason(
    live_server: LiveServer, path: str, body: bytes
) -> None:
    answer = httpx.post(admin(live_server, path), content=body, headers=JSON)
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"]
    assert httpx.get(admin(live_server, "health")).status_code == 200


def test_deep_json_to_the_checker_is_a_400(live_server: LiveServer) -> None:
    body = b"[" * 5000 + b"]" * 5000
    answer = httpx.post(live_server.url("/_streamctl/check"), content=body)
    assert answer.status_code in (400, 422)
    assert answer.json()["detail"]
