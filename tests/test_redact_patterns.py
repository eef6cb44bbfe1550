"""Redaction by pattern: every name and shape issue 16 found leaking, each redacted, and the
names that only look like secrets kept; nothing recurses however deep the JSON nests."""

from __future__ import annotations

import base64
import io
import json

import pytest

from streamctl.core.redact import (
    REDACTED,
    is_secret_name,
    redact_body,
    redact_headers,
    redact_target,
    redact_text,
)
from streamctl.core.transcript import Request, Response
from streamctl.engine.recorder import Recorder

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "name",
    [
        "X-Api-Token",
        "X-Goog-Api-Key",
        "X-Amz-Security-Token",
        "Private-Token",
        "X-Session-Token",
        "Api-Token",
        "X-Auth",
        "WWW-Authenticate",
        "Cookie",
        "X-Signature",
        "X-Client-Credential",
    ],
)
def test_every_header_that_names_a_secret_is_redacted(name: str) -> None:
    assert redact_headers([(name, "s3cr3t")]) == ((name, REDACTED),)


def test_headers_that_only_look_like_secrets_keep_their_values() -> None:
    kept = [
        ("content-type", "application/json"),
        (":authority", "example.test"),
        ("access-control-allow-credentials", "true"),
        ("keep-alive", "timeout=5"),
    ]
    assert redact_headers(kept) == tuple(kept)
    shaped = redact_headers([("x-note", "Bearer abc.def"), ("x-echo", f"t={JWT}")])
    assert shaped == (("x-note", f"Bearer {REDACTED}"), ("x-echo", f"t={REDACTED}"))


@pytest.mark.parametrize(
    "field",
    ["api_token", "auth_token", "sessionToken", "passwd", "private_key", "pwd", "jwt"],
)
def test_every_json_field_that_names_a_secret_is_redacted(field: str) -> None:
    out = json.loads(redact_text(json.dumps({field: "s3cr3t", "n": 1})))
    assert out == {field: REDACTED, "n": 1}


def test_a_nested_pass_is_redacted_at_any_depth() -> None:
    body = {"a": [{"b": {"db": {"pass": "hunter2", "host": "h"}}}]}
    out = json.loads(redact_text(json.dumps(body)))
    assert out == {"a": [{"b": {"db": {"pass": REDACTED, "host": "h"}}}]}


@pytest.mark.parametrize(
    "name",
    [
        "session_id",
        "session_working_dir",
        "max_tokens",
        "inputTokens",
        "token_state",
        "author",
        "content",
    ],
)
def test_names_that_only_look_like_secrets_are_kept(name: str) -> None:
    assert not is_secret_name(name)
    assert redact_text(json.dumps({name: "v"})) == json.dumps({name: "v"})


@pytest.mark.parametrize("name", ["api_token", "sig", "access_key", "X-Amz-Signature"])
def test_every_query_key_that_names_a_secret_is_redacted(name: str) -> None:
    target = f"/x?{name}=s3cr3t&q=1"
    assert redact_target(target) == f"/x?{name}={REDACTED}&q=1"


def test_a_url_loses_its_user_and_password() -> None:
    url = "https://bob:hunter2@api.example.test/v1?key=k&q=1"
    assert redact_target(url) == f"https://{REDACTED}@api.example.test/v1?key={REDACTED}&q=1"


def test_a_form_body_loses_its_secret_fields() -> None:
    body = b"username=bob&password=hunter2&remember=1"
    assert redact_body(body) == f"username=bob&password={REDACTED}&remember=1".encode()


def test_every_ndjson_line_is_redacted() -> None:
    body = '{"a":1}\n{"password":"hunter2"}\n{"token":"t","n":2}\n'
    lines = redact_text(body).split("\n")
    assert lines == [
        '{"a":1}',
        f'{{"password":"{REDACTED}"}}',
        f'{{"token":"{REDACTED}","n":2}}',
        "",
    ]


def test_json_cut_short_keeps_no_secret() -> None:
    # The journal keeps the first 64 KB of a body: the JSON no longer parses.
    body = json.dumps({"user": "bob", "password": "hunter2", "pad": "a" * 70_000}).encode()
    kept = redact_body(body[: 64 * 1024]).decode()
    assert "hunter2" not in kept
    assert f'"password": "{REDACTED}"' in kept
    assert '"user": "bob"' in kept


def test_a_jwt_or_bearer_credential_anywhere_is_redacted() -> None:
    text = f"hello {JWT} and Authorization: Bearer abc123 end"
    assert redact_text(text) == f"hello {REDACTED} and Authorization: Bearer {REDACTED} end"


@pytest.mark.parametrize("depth", [500, 5000])
def test_deep_json_is_redacted_without_recursion(depth: int) -> None:
    body = "[" * depth + '{"token":"t"}' + "]" * depth
    out = redact_text(body)
    assert '"t"' not in out
    assert out.count("[") == depth


def test_record_redacts_the_url_response_headers_and_what_the_server_echoes() -> None:
    sink = io.StringIO()
    meta = {"url": redact_target("http://h/x?api_token=s3cr3t")}
    recorder = Recorder(sink, "ws-events", "ws", meta=meta)
    recorder.start(Request("GET", "/ws/chat?token=abc", (("x-api-token", "s3cr3t"),)))
    head = Response(101, (("x-api-token", "s3cr3t"), ("www-authenticate", "Bearer realm=x")))
    recorder.head(head)
    recorder.frame("server", f'{{"type":"authenticated","data":{{"token":"{JWT}"}}}}')
    recorder.frame("server", f"data: {JWT}\n\n".encode())
    recorder.frame("server", b"data: \xff not utf-8 Bearer abc\n\n")
    recorder.frame("server", b"data: plain\n\n")
    recorder.end("complete")
    written = sink.getvalue()
    for secret in ("s3cr3t", JWT, "realm"):
        assert secret not in written
    records = [json.loads(line) for line in written.splitlines()]
    assert records[0]["meta"]["url"] == f"http://h/x?api_token={REDACTED}"
    raw = next(base64.b64decode(r["b64"]) for r in records if "b64" in r)
    assert raw == b"data: \xff not utf-8 Bearer <redacted>\n\n"  # other bytes as they came
    assert records[-2]["data"] == "data: plain\n\n"


def test_a_member_whose_name_is_not_valid_json_is_judged_by_its_raw_name() -> None:
    # Cut short, so redacted member by member; "\q" is no JSON escape: the raw name is used.
    text = '{"a\\q": "kept", "pass\\q": "hunter2", "n": 1'
    assert redact_text(text) == f'{{"a\\q": "kept", "pass\\q": "{REDACTED}", "n": 1'
