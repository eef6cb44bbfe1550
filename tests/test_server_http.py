"""HTTP around the protocols: the index, CORS and preflight, errors, and the ASGI front."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from mockserver import bundled
from mockserver.cors import ALLOW_HEADERS, Cors
from mockserver.front import path_pattern
from mockserver.testing import LiveServer
from streamctl.core.protocols import names
from tests.live import reconfigured


def test_the_index_lists_every_protocol_and_is_not_a_goose_chat_page(
    live_server: LiveServer,
) -> None:
    response = httpx.get(live_server.url("/"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "Goose Chat" not in response.text
    index = response.json()
    assert [p["name"] for p in index["protocols"]] == names()
    paths = {(e["method"], e["path"]) for p in index["protocols"] for e in p["endpoints"]}
    assert ("POST", "/reply") in paths
    assert ("WS", "/chat/ws") in paths
    assert index["admin"] == "/_streamctl"


def test_unknown_paths_and_methods_answer_fastapi_style_json(live_server: LiveServer) -> None:
    missing = httpx.get(live_server.url("/nope"))
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong = httpx.post(live_server.url("/api/chat/stream?message=x"))
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})
    assert wrong.headers["allow"] == "GET"
    routed = httpx.post(live_server.url("/status"))
    assert (routed.status_code, routed.json()) == (405, {"detail": "Method Not Allowed"})


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:5173", "https://localhost", "http://127.0.0.1:3000", "http://[::1]:8080"],
)
def test_any_localhost_origin_may_read_every_kind_of_response(
    live_server: LiveServer, origin: str
) -> None:
    headers = {"Origin": origin}
    for response in (
        httpx.get(live_server.url("/api/chat/stream?message=hi"), headers=headers),
        httpx.get(live_server.url("/api/chat/stream"), headers=headers),  # a refusal
        httpx.get(live_server.url("/status"), headers=headers),
        httpx.get(live_server.url("/_streamctl/health"), headers=headers),
        httpx.get(live_server.url("/nope"), headers=headers),
    ):
        assert response.headers["access-control-allow-origin"] == origin
        assert "Origin" in response.headers["vary"]


def test_other_origins_get_no_cors_headers(live_server: LiveServer) -> None:
    for origin in ("https://evil.example", "http://localhost.evil.example", "null"):
        response = httpx.get(live_server.url("/status"), headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers


def test_a_preflight_allows_the_headers_the_protocols_need(live_server: LiveServer) -> None:
    response = httpx.options(
        live_server.url("/reply"),
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-secret-key, content-type, x-custom",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    methods = response.headers["access-control-allow-methods"]
    assert {"GET", "POST", "DELETE", "OPTIONS"} <= set(methods.split(", "))
    allowed = {h.lower() for h in response.headers["access-control-allow-headers"].split(", ")}
    needed = {"x-secret-key", "content-type", "authorization", "x-streamctl-scenario"}
    assert needed | {"x-custom"} <= allowed


def test_a_preflight_from_a_foreign_origin_is_refused(live_server: LiveServer) -> None:
    response = httpx.options(
        live_server.url("/api/chat/stream"),
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_configured_origins_replace_the_localhost_default(
    live_server_session: LiveServer,
) -> None:
    origins = ("https://app.example.com",)
    with reconfigured(live_server_session, cors_origins=origins) as server:
        good = httpx.get(server.url("/status"), headers={"Origin": "https://app.example.com"})
        local = httpx.get(server.url("/status"), headers={"Origin": "http://localhost:3000"})
    assert good.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in local.headers


def test_the_cors_policy_on_its_own() -> None:
    anyone = Cors(["*"])
    assert anyone.allows("https://anything.example")
    listed = Cors(["https://a.example/"])
    assert listed.allows("https://a.example")
    assert not listed.allows("http://localhost")
    assert Cors().headers(None) == []
    status, headers = Cors().preflight("http://localhost", None)
    assert status == 204
    assert dict(headers)[b"access-control-allow-headers"] == ALLOW_HEADERS.encode()


def test_templated_paths_match_one_segment_per_placeholder() -> None:
    pattern = path_pattern("/api/web/v1/chats/{chat_id}/messages/stream")
    found = pattern.fullmatch("/api/web/v1/chats/42/messages/stream")
    assert found is not None
    assert found.groupdict() == {"chat_id": "42"}
    assert pattern.fullmatch("/api/web/v1/chats/4/2/messages/stream") is None


def test_the_bundled_scenarios_are_found_in_a_checkout() -> None:
    assert bundled.bundled_dir() == Path(bundled.__file__).resolve().parent.parent / "fixtures" / (
        "scenarios"
    )


def test_an_installed_fixtures_package_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fake_fixtures"
    (package / "scenarios").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(bundled, "PACKAGE", "fake_fixtures")
    assert bundled.bundled_dir() == package / "scenarios"


def test_a_websocket_to_an_unknown_path_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        connect(live_server.url("/nope", ws=True))
    assert caught.value.response.status_code == 404
