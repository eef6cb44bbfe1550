"""What the playground page needs from the server: GET / negotiation, its static files, the
checker over HTTP (POST /_streamctl/check) and development tokens (GET /_streamctl/token)."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from websockets.sync.client import connect
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from mockserver.playground import STATIC, wants_html
from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.jwt import verify
from streamctl.core.protocols import names

BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
SSE = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))


def accept(value: str) -> MIMEAccept:
    return parse_accept_header(value, MIMEAccept)


# --- GET / --------------------------------------------------------------------------------


def test_a_browser_gets_the_page(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url("/"), headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Accept" in response.headers["vary"]
    assert "<title>streamctl" in response.text


@pytest.mark.parametrize(
    "header",
    [
        None,  # httpx's own */*
        "*/*",
        "application/json",
        "application/json, text/plain, */*",  # axios, fetch wrappers
        "application/json, text/html;q=0.5",
        "text/html;q=0",
    ],
)
def test_everyone_else_keeps_the_json_index(live_server: LiveServer, header: str | None) -> None:
    headers = {} if header is None else {"Accept": header}
    response = httpx.get(live_server.url("/"), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "Accept" in response.headers["vary"]
    assert [p["name"] for p in response.json()["protocols"]] == names()


def test_a_goose_client_probing_the_root_never_sees_goose_chat(live_server: LiveServer) -> None:
    # A client that finds "Goose Chat" at / takes the server for `goose web`.
    for header in (None, "*/*", BROWSER_ACCEPT):
        headers = {} if header is None else {"Accept": header}
        assert "goose chat" not in httpx.get(live_server.url("/"), headers=headers).text.lower()
    for path in STATIC.iterdir():
        assert "goose chat" not in path.read_text(encoding="utf-8").lower(), path.name


@pytest.mark.parametrize(
    ("header", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("text/html, application/json", True),
        ("*/*", False),
        ("text/*", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0", False),
        ("", False),
    ],
)
def test_only_an_accept_that_names_html_gets_the_page(header: str, html: bool) -> None:
    assert wants_html(accept(header)) is html


# --- static files ---------------------------------------------------------------------------


def _references(text: str) -> list[str]:
    """Local files an HTML page or a JavaScript module loads."""
    found = re.findall(r'(?:src|href)="(_streamctl/static/[^"]+)"', text)
    found += [f"_streamctl/static/{m[2:]}" for m in re.findall(r'from "(\./[^"]+)"', text)]
    return found


def test_every_file_the_page_loads_is_served_with_its_type(live_server: LiveServer) -> None:
    page = httpx.get(live_server.url("/"), headers={"Accept": "text/html"}).text
    wanted = _references(page)
    seen: set[str] = set()
    types = {".js": "text/javascript", ".css": "text/css"}
    while wanted:
        path = wanted.pop()
        if path in seen:
            continue
        seen.add(path)
        response = httpx.get(live_server.url(f"/{path}"))
        assert response.status_code == 200, path
        suffix = path[path.rindex(".") :]
        assert response.headers["content-type"].startswith(types[suffix]), path
        assert response.headers["cache-control"] == "no-cache"
        wanted += _references(response.text)
    # Every file of the page is reachable from it (no dead files ship in the wheel).
    assert {p.rsplit("/", 1)[1] for p in seen} == {p.name for p in STATIC.iterdir()} - {
        "index.html"
    }


def test_nothing_is_loaded_from_another_server() -> None:
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text) is None, path.name
        assert re.search(r"""import[^;]*from\s*["'](https?:)?//""", text) is None, path.name
        assert "@import" not in text, path.name


def test_a_missing_static_file_is_a_404_and_the_folder_cannot_be_left(
    live_server: LiveServer,
) -> None:
    assert httpx.get(live_server.url("/_streamctl/static/nope.js")).status_code == 404
    escape = httpx.get(live_server.url("/_streamctl/static/..%2fplayground.py"))
    assert escape.status_code == 404


# --- POST /_streamctl/check ------------------------------------------------------------------


def transcript(protocol: str, *chunks: str, status: int = 200) -> str:
    header = {
        "format": "streamctl-transcript",
        "version": 1,
        "protocol": protocol,
        "transport": "sse",
        "request": {"method": "GET", "target": "/api/chat/stream?message=hi", "body": None},
        "response": {"status": status, "headers": [list(h) for h in SSE]},
    }
    records = [{"t": float(i), "from": "server", "data": c} for i, c in enumerate(chunks)]
    records.append({"t": float(len(chunks)), "end": "complete", "detail": ""})
    return "\n".join(json.dumps(line) for line in [header, *records]) + "\n"


def check(server: LiveServer, body: str | bytes) -> httpx.Response:
    return httpx.post(server.url("/_streamctl/check"), content=body)


def delta(text: str) -> str:
    return f"data: {json.dumps({'delta': text})}\n\n"


DONE = 'data: {"done": true}\n\n'


def test_a_conforming_transcript_has_no_findings(live_server: LiveServer) -> None:
    response = check(live_server, transcript("sse-delta-done", delta("Hel"), delta("lo"), DONE))
    assert response.status_code == 200
    assert response.json() == {"findings": [], "failed": False}


def test_the_checkers_findings_come_back_as_data(live_server: LiveServer) -> None:
    body = transcript("sse-delta-done", delta("Hi"), DONE, delta("late"))
    answer = check(live_server, body).json()
    assert answer["failed"] is True
    [finding] = answer["findings"]
    assert finding["rule"] == "sse-delta-done.done.not-last"
    assert finding["level"] == "MUST"
    assert finding["frame"] == 2
    assert "late" in finding["excerpt"]
    assert finding["source"]


def test_should_findings_alone_do_not_fail(live_server: LiveServer) -> None:
    answer = check(live_server, transcript("sse-delta-done", delta(""), DONE)).json()
    assert [f["rule"] for f in answer["findings"]] == ["sse-delta-done.delta.nonempty"]
    assert answer["failed"] is False


def test_a_refused_request_is_a_finding(live_server: LiveServer) -> None:
    answer = check(live_server, transcript("goose", status=401)).json()
    assert [f["rule"] for f in answer["findings"]] == ["sse.http.status"]
    assert answer["failed"] is True


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "no header line"),
        (b"not json\n", "line 1: not JSON"),
        (b'{"format": "something-else"}\n', "not a streamctl transcript"),
        (b"\xff\xfe\n", "not UTF-8"),
        (transcript("sse-delta-done", DONE).replace("sse-delta-done", "smoke-signals"), "smoke"),
    ],
)
def test_what_is_not_a_checkable_transcript_is_a_422(
    live_server: LiveServer, body: str | bytes, detail: str
) -> None:
    response = check(live_server, body)
    assert response.status_code == 422
    assert detail in response.json()["detail"]


# --- GET /_streamctl/token --------------------------------------------------------------------


def test_a_token_names_the_user_and_verifies_with_the_servers_secret(
    live_server: LiveServer,
) -> None:
    token = httpx.get(live_server.url("/_streamctl/token"), params={"user": "alice"}).json()
    payload = verify(token["token"], live_server.config.jwt_secret, time.time())
    assert payload["userId"] == "alice"
    default = httpx.get(live_server.url("/_streamctl/token")).json()["token"]
    assert verify(default, live_server.config.jwt_secret, time.time())["userId"] == "dev-user"


def test_the_token_authenticates_on_ws_events(live_server: LiveServer) -> None:
    token = httpx.get(live_server.url("/_streamctl/token"), params={"user": "bob"}).json()
    with connect(live_server.url("/ws/chat", ws=True)) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        ws.send(json.dumps({"type": "create_chat", "data": {"token": token["token"]}}))
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "authenticated",
            "data": {"userId": "bob"},
        }


def test_an_overlong_user_name_is_a_422(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url("/_streamctl/token"), params={"user": "x" * 101})
    assert response.status_code == 422
    assert "100" in response.json()["detail"]


# --- the examples in docs/playground.md -------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "playground.md"
DOC_URL = "http://127.0.0.1:8000"


def doc_examples() -> list[list[str]]:
    blocks = re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S)
    lines = [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]
    return [shlex.split(line) for line in lines]


def curl(args: list[str], workdir: Path) -> httpx.Response:
    """The few curl options the docs use, with httpx."""
    headers: dict[str, str] = {}
    body: bytes | None = None
    words = iter(args[1:])
    for word in words:
        if word == "-H":
            name, value = next(words).split(":", 1)
            headers[name] = value.strip()
        elif word == "--data-binary":
            body = (workdir / next(words).removeprefix("@")).read_bytes()
        elif word != "-s":
            url = word
    method = "POST" if body is not None else "GET"
    return httpx.request(method, url, headers=headers, content=body)


def test_every_example_in_the_docs_works(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    examples = doc_examples()
    assert [words[0] for words in examples] == ["curl", "curl", "streamctl", "curl"]
    answers = []
    for example in examples:
        words = [w.replace(DOC_URL, live_server.base_url) for w in example]
        if words[0] == "streamctl":
            result = CliRunner().invoke(app, words[1:], prog_name="streamctl")
            assert result.exit_code == 0, result.output
            continue
        response = curl(words, tmp_path)
        assert response.status_code == 200, words
        answers.append(response.json())
    index, token, checked = answers
    assert [p["name"] for p in index["protocols"]] == names()
    assert verify(token["token"], live_server.config.jwt_secret, time.time())["userId"] == "alice"
    assert checked == {"findings": [], "failed": False}
