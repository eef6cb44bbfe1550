"""Secrets never reach a transcript: headers, query parameters, JSON fields and JWTs."""

from __future__ import annotations

import json

import pytest

from streamctl.core.redact import (
    REDACTED,
    redact_body,
    redact_headers,
    redact_target,
    redact_text,
)

# A real-shaped JWT (header {"alg":"HS256","typ":"JWT"}).
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
UNSIGNED_JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "X-Secret-Key",
        "x-secret-key",
        "Authorization",
        "AUTHORIZATION",
        "Cookie",
        "cookie",
        "Set-Cookie",
        "Proxy-Authorization",
        "X-Api-Key",
        "Api-Key",
        "Sec-WebSocket-Key",
        "X-Access-Token",
        "Token",
    ],
)
def test_secret_headers_are_redacted_case_insensitively(name: str) -> None:
    assert redact_headers([(name, "s3cr3t"), ("Accept", "text/event-stream")]) == (
        (name, REDACTED),
        ("Accept", "text/event-stream"),
    )


def test_other_headers_keep_name_order_and_value() -> None:
    headers = [("Content-Type", "application/json"), ("X-Request-Id", "abc"), ("x-b", "")]
    assert redact_headers(headers) == tuple(headers)


def test_jwt_inside_any_header_is_redacted() -> None:
    assert redact_headers([("X-Forwarded-Jwt", f"v1 {JWT}")]) == (
        ("X-Forwarded-Jwt", f"v1 {REDACTED}"),
    )


# --- query parameters ----------------------------------------------------------------------


def test_token_query_parameter() -> None:
    assert redact_target("/v1/stream?token=abc123") == f"/v1/stream?token={REDACTED}"


@pytest.mark.parametrize(
    "name", ["token", "TOKEN", "access_token", "accessToken", "api-key", "api_key", "password"]
)
def test_secret_query_parameters(name: str) -> None:
    target = f"/ws?room=1&{name}=abc&x=y"
    assert redact_target(target) == f"/ws?room=1&{name}={REDACTED}&x=y"


def test_percent_encoded_parameter_name_is_recognised() -> None:
    assert redact_target("/ws?%74oken=abc") == f"/ws?%74oken={REDACTED}"


def test_target_without_query_is_unchanged() -> None:
    assert redact_target("/v1/chat/completions") == "/v1/chat/completions"
    assert redact_target("/v1/chat?") == "/v1/chat?"


def test_other_parameters_keep_their_bytes() -> None:
    # Decoding and re-encoding would turn %20 into + and / into %2F: the target must not change.
    target = "/s?q=a%20b/c+d&flag&empty=&token=&x=%E2%82%AC#frag"
    assert redact_target(target) == target


def test_only_the_query_not_the_fragment_is_redacted() -> None:
    assert (
        redact_target("/s?token=abc#section?token=def") == f"/s?token={REDACTED}#section?token=def"
    )
    assert redact_target("/s#a?token=abc") == "/s#a?token=abc"


def test_jwt_in_any_query_parameter() -> None:
    assert redact_target(f"/ws?session={JWT}&n=1") == f"/ws?session={REDACTED}&n=1"


# --- JSON bodies ---------------------------------------------------------------------------


def test_nested_json_secrets() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "login": {"token": "t0k", "nested": [{"secret": "s"}, {"Secret_Key": "k"}]},
        "auth": {"user": "u", "scheme": "basic"},
        "clientSecret": "c",
        "api_key": "",
        "password": None,
        "key": 42,
        "stream": True,
    }
    out = json.loads(redact_text(json.dumps(body)))
    assert out == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "login": {
            "token": REDACTED,
            "nested": [{"secret": REDACTED}, {"Secret_Key": REDACTED}],
        },
        # A secret-named object is a secret as a whole.
        "auth": REDACTED,
        "clientSecret": REDACTED,
        # Empty values hide nothing and stay as they are.
        "api_key": "",
        "password": None,
        "key": REDACTED,
        "stream": True,
    }


def test_whole_secret_subtree_is_redacted() -> None:
    out = json.loads(redact_text('{"secret": {"a": 1, "b": [1, 2]}}'))
    assert out == {"secret": REDACTED}


def test_json_without_secrets_keeps_its_bytes() -> None:
    text = '{ "model" : "m",\n  "messages": [] , "note": "caf\\u00e9" }'
    assert redact_text(text) == text


def test_redacted_json_is_compact_and_keeps_non_ascii() -> None:
    assert redact_text('{ "token": "x", "q": "café €" }') == (
        f'{{"token":"{REDACTED}","q":"café €"}}'
    )


def test_jwt_inside_json_string() -> None:
    text = json.dumps({"messages": [{"content": f"my token is {JWT}, ok?"}]})
    assert json.loads(redact_text(text)) == {
        "messages": [{"content": f"my token is {REDACTED}, ok?"}]
    }


def test_jwt_written_with_json_escapes_is_still_found() -> None:
    escaped = "\\u0065" + JWT[1:]  # the same string, with its first letter escaped
    assert json.loads(redact_text(f'{{"c": "{escaped}"}}')) == {"c": REDACTED}


def test_json_array_of_objects() -> None:
    assert json.loads(redact_text('[{"token": "a"}, {"n": 1}]')) == [{"token": REDACTED}, {"n": 1}]


# --- plain text ----------------------------------------------------------------------------


def test_jwt_in_plain_text() -> None:
    assert redact_text(f"Bearer {JWT}") == f"Bearer {REDACTED}"
    assert redact_text(f"a {UNSIGNED_JWT} b {JWT}") == f"a {REDACTED} b {REDACTED}"


def test_jwt_look_alike_inside_a_word_is_kept() -> None:
    text = "monkeyJump.over.fence and keyJ.a.b"
    assert redact_text(text) == text


def test_non_json_text_keeps_its_bytes() -> None:
    for text in ["plain text {with braces} token=abc", "{\n not: json", "", "{}", "[1, 2]"]:
        assert redact_text(text) == text


def test_jwt_in_non_json_text_with_braces() -> None:
    assert redact_text(f"{{token: {JWT}}}") == f"{{token: {REDACTED}}}"


# --- bodies --------------------------------------------------------------------------------


def test_body_json_secrets() -> None:
    body = b'{"messages": [], "token": "abc"}'
    assert redact_body(body) == f'{{"messages":[],"token":"{REDACTED}"}}'.encode()


def test_body_without_secrets_is_the_same_bytes() -> None:
    body = b'{"messages":  [{"content": "caf\xc3\xa9"}]}'
    assert redact_body(body) is body


def test_non_utf8_body_is_untouched() -> None:
    body = b"\xff\xfe" + JWT.encode() + b'{"token": "x"}'
    assert redact_body(body) is body


def test_body_with_jwt_in_text() -> None:
    assert redact_body(f"jwt={JWT}".encode()) == f"jwt={REDACTED}".encode()
